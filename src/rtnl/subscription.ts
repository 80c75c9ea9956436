/**
 * A netlink socket that listens to multicast groups (rtnetlink's RTNLGRP_LINK, nf_tables' NFNLGRP_NFTABLES)
 * in one namespace. Like every netlink socket it belongs to the namespace it was created in, so it sees
 * only that namespace's changes. The groups are joined with NETLINK_ADD_MEMBERSHIP (the `netlink`
 * package's addMembership), which takes group numbers of any size, unlike the bind() bitmask.
 *
 * `barrier()` answers "has every notification the kernel queued before now been handed out?": it sends a
 * request on the same socket and resolves when the kernel's answer comes back. The socket's receive queue
 * is first-in first-out, so everything queued before the request has been dispatched by then. A watcher
 * uses it to tell its own changes' notifications from later ones.
 *
 * A receive queue that overflowed (the kernel reports ENOBUFS) has lost notifications: 'overrun' says so,
 * and the listener must assume anything may have changed.
 */
import { EventEmitter } from 'node:events'
import { KvmnetError } from '../errors.js'
import type { NetnsRef } from '../netns/index.js'
import { openRawRtnl, type RawRtnl } from './open-raw-socket.js'
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './wire/constants.js'
import { setPid, setSeq, splitMessages, type NlMsg } from './wire/header.js'

export interface SubscriptionEvents {
  /** One notification (never an answer to this socket's own barrier requests). */
  message: [NlMsg]
  /** The kernel dropped notifications (receive queue full): the state must be read afresh. */
  overrun: []
}

export class NetlinkSubscription extends EventEmitter<SubscriptionEvents> {
  private readonly raw: RawRtnl['raw']
  readonly port: number
  private seq = 1
  private readonly waiting = new Map<number, () => void>()
  private closed = false

  private constructor(r: RawRtnl, groups: readonly number[]) {
    super()
    this.raw = r.raw
    this.port = r.port
    try {
      for (const g of groups) this.raw.addMembership(g)
    } catch (err) {
      this.raw.close()
      throw err
    }
    this.raw.on('message', (buf) => this.onDatagram(buf))
    this.raw.on('truncatedMessage', () => this.emit('overrun'))
    // ENOBUFS is the only error a receiving netlink socket reports; without a listener it would throw.
    this.raw.on('error', () => this.emit('overrun'))
  }

  /** Join `groups` of `protocol` (NETLINK_ROUTE by default) on a socket in `ns`. */
  static open(ns: NetnsRef | undefined, groups: readonly number[], protocol?: number): NetlinkSubscription {
    return new NetlinkSubscription(openRawRtnl(ns, protocol), groups)
  }

  /**
   * Resolves once every notification queued before this call has been emitted. `request` is any message
   * the kernel answers with an ack or a reply carrying its sequence number (NLM_F_ACK set).
   */
  barrier(request: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new KvmnetError('netlink subscription is closed'))
    const msg = Buffer.from(request)
    this.seq = this.seq >= 0x7fffffff ? 1 : this.seq + 1
    const seq = this.seq
    setSeq(msg, seq)
    setPid(msg, this.port)
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, resolve)
      this.raw.send(msg, {}, (error) => {
        if (!error) return
        this.waiting.delete(seq)
        reject(new KvmnetError(`netlink barrier not sent: ${error.message}`))
      })
    })
  }

  /** Notifications keep the process alive by default; unref() lets it exit while only watching. */
  unref(): void {
    if (!this.closed) this.raw.unref()
  }

  ref(): void {
    if (!this.closed) this.raw.ref()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.raw.close()
    for (const resolve of this.waiting.values()) resolve()
    this.waiting.clear()
  }

  private onDatagram(buf: Buffer): void {
    for (const m of splitMessages(buf)) {
      const { type, seq, pid } = m.header
      if (type === NLMSG_NOOP || type === NLMSG_OVERRUN) continue
      // Answers to our own requests carry our port id and the request's sequence number; multicast
      // notifications carry the port id of whoever made the change (0 for the kernel itself).
      if (pid === this.port && this.waiting.has(seq)) {
        if (type === NLMSG_ERROR || type === NLMSG_DONE) {
          const done = this.waiting.get(seq)
          this.waiting.delete(seq)
          done?.()
        }
        continue
      }
      if (type === NLMSG_ERROR || type === NLMSG_DONE) continue
      this.emit('message', m)
    }
  }
}
