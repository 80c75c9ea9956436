/**
 * A netlink socket that listens to multicast groups (rtnetlink's RTNLGRP_LINK, nf_tables' NFNLGRP_NFTABLES)
 * in one namespace. Like every netlink socket it belongs to the namespace it was created in, so it sees
 * only that namespace's changes. The groups are joined with NETLINK_ADD_MEMBERSHIP, which takes group
 * numbers of any size, unlike the bind() bitmask.
 *
 * The socket is kvmnet's own (the addon's NetlinkListener), not the npm `netlink` package's: that one
 * aborts the whole process when the receive queue overflows (see native/src/netlink_listener.cc).
 *
 * `barrier()` answers "has every notification the kernel queued before now been handed out?": it sends a
 * request on the same socket and resolves when the kernel's answer comes back. The socket's receive queue
 * is first-in first-out, so everything queued before the request has been dispatched by then. A watcher
 * uses it to tell its own changes' notifications from later ones.
 *
 * A receive queue that overflowed (the kernel reports ENOBUFS) has lost notifications: 'overrun' says so,
 * and the listener must assume anything may have changed. The socket goes on listening.
 */
import { EventEmitter } from 'node:events'
import { KvmnetError } from '../errors.js'
import { native, type NativeNetlinkListener } from '../native/index.js'
import type { NetnsRef } from '../netns/index.js'
import { RECV_BUFFER_BYTES } from './open-raw-socket.js'
import { NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_ROUTE, SOL_NETLINK, SOL_SOCKET, SO_RCVBUFFORCE } from './wire/constants.js'
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './wire/constants.js'
import { setPid, setSeq, splitMessages, type NlMsg } from './wire/header.js'

/** How long a barrier waits for the kernel's answer before asking again. */
const BARRIER_RETRY_MS = 250

/** setsockopt(SOL_NETLINK) option joining a multicast group (linux/netlink.h). */
const NETLINK_ADD_MEMBERSHIP = 1

export interface SubscriptionEvents {
  /** One notification (never an answer to this socket's own barrier requests). */
  message: [NlMsg]
  /** The kernel dropped notifications (receive queue full): the state must be read afresh. */
  overrun: []
}

export class NetlinkSubscription extends EventEmitter<SubscriptionEvents> {
  private readonly sock: NativeNetlinkListener
  readonly port: number
  private seq = 1
  private readonly waiting = new Map<number, () => void>()
  private closed = false

  private constructor(ns: NetnsRef | undefined, groups: readonly number[], protocol: number) {
    super()
    const open = () =>
      new native.NetlinkListener(protocol, (kind, arg) => {
        if (kind === 'message' && Buffer.isBuffer(arg)) this.onDatagram(arg)
        // A failing socket has lost notifications just the same; the watcher resyncs.
        else if (kind !== 'message') this.emit('overrun')
      })
    this.sock = ns && !ns.isCurrent ? native.withNetns(ns.path, open) : open()
    this.port = this.sock.port
    try {
      const fd = this.sock.fd
      for (const g of groups) native.setsockoptInt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g)
      // Acks of the barrier requests: with the kernel's reason, and capped to the header.
      native.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1)
      native.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1)
      // Room for a burst; FORCE exceeds net.core.rmem_max but needs CAP_NET_ADMIN, else the capped one.
      try {
        native.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER_BYTES)
      } catch {
        native.setsockoptInt(fd, SOL_SOCKET, native.constants.SO_RCVBUF, RECV_BUFFER_BYTES)
      }
      this.sock.start()
    } catch (err) {
      this.sock.close()
      throw err
    }
  }

  /** Join `groups` of `protocol` (NETLINK_ROUTE by default) on a socket in `ns`. */
  static open(ns: NetnsRef | undefined, groups: readonly number[], protocol = NETLINK_ROUTE): NetlinkSubscription {
    return new NetlinkSubscription(ns, groups, protocol)
  }

  /**
   * Resolves once every notification queued before this call has been emitted. `request` is any message
   * the kernel answers with an ack or a reply carrying its sequence number (NLM_F_ACK set).
   */
  barrier(request: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new KvmnetError('netlink subscription is closed'))
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      let seq = 0
      const send = () => {
        if (this.closed) return resolve()
        this.waiting.delete(seq)
        const msg = Buffer.from(request)
        this.seq = this.seq >= 0x7fffffff ? 1 : this.seq + 1
        seq = this.seq
        setSeq(msg, seq)
        setPid(msg, this.port)
        this.waiting.set(seq, () => {
          clearTimeout(timer)
          resolve()
        })
        try {
          this.sock.send(msg)
        } catch (err) {
          this.waiting.delete(seq)
          reject(new KvmnetError(`netlink barrier not sent: ${err instanceof Error ? err.message : String(err)}`, { cause: err }))
          return
        }
        // After an overflow the kernel drops even its answers to this socket, silently, until the queue
        // has been read empty: ask again (later, so still behind everything queued before the first ask).
        timer = setTimeout(send, BARRIER_RETRY_MS)
      }
      send()
    })
  }

  /** Notifications keep the process alive by default; unref() lets it exit while only watching. */
  unref(): void {
    if (!this.closed) this.sock.unref()
  }

  ref(): void {
    if (!this.closed) this.sock.ref()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.close()
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
