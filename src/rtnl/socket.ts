/**
 * Request/ack and dump over a netlink socket, with pipelining: every request gets its own sequence number
 * and is settled by the replies carrying it, so any number can be in flight at once. Requests queued in
 * the same turn of the event loop are packed into as few datagrams as possible (the kernel runs every
 * message of a datagram and acks each one separately).
 *
 * The socket is kvmnet's own (native/src/netlink_socket.cc, opened in open-raw-socket.ts; the npm
 * `netlink` package's only with an addon that predates it): its datagrams are read into one reused buffer
 * and decoded in place, and only the replies kept are copied out. The package's socket read each datagram
 * into a Buffer of its own, malloc'd and freed only when V8 collected it (issue 21: ~5 MB of glibc's main
 * arena after 100 networks; 3000 pipelined requests cost ~30-40% more CPU).
 *
 * Things about a netlink socket this layer has to make up for:
 * - one datagram may hold many messages (a dump page, a run of acks): every one is dispatched;
 * - a full receive buffer makes the kernel drop replies and report ENOBUFS, so the number of requests in
 *   flight is bounded and the buffer enlarged; if it happens anyway (or a reply did not fit the read
 *   buffer), everything in flight is failed instead of waiting forever;
 * - the socket is ref'd from creation: it is unref'd whenever nothing is pending;
 * - a socket runs one dump at a time (EBUSY otherwise): dumps wait their turn, other requests do not.
 */
import { KvmnetError, NetlinkError, SystemError } from '../errors.js'
import type { NetnsRef } from '../netns/index.js'
import { canSendNetlinkOffLoop, native } from '../native/index.js'
import { openRawRtnl, type RawRtnl, type RawRtnlOptions } from './open-raw-socket.js'
import { OffLoopSends, type RtnlSocketOptions, type SendFailed } from './off-loop-sends.js'
import { dumpConsistently, type DumpAttempt } from './dump-retry.js'
import { align4 } from './wire/attrs.js'
import { NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP, NETLINK_ROUTE, SOL_NETLINK } from './wire/constants.js'
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP_INTR, RTM_NAMES } from './wire/constants.js'
import { decodeHeader, setPid, setSeq } from './wire/header.js'
import { parseDone, parseNlError } from './wire/nlmsgerr.js'

export type { BatchItem, BatchResult, DumpMeta, MessageWatcher, NlReply, ReplyFilter, RequestMeta } from './socket-types.js'
import type { BatchItem, BatchResult, DumpMeta, MessageWatcher, NlReply, ReplyFilter, RequestMeta } from './socket-types.js'

/** Requests in flight at once; with capped acks this stays far below the receive buffer. */
export const MAX_IN_FLIGHT = 1024
/** Bytes per sendmsg; well under the socket's send buffer, which bounds one datagram. */
export const MAX_DATAGRAM_BYTES = 64 * 1024

interface Pending {
  seq: number
  msg: Buffer
  op: string
  object: string | undefined
  dump: boolean
  replies: NlReply[]
  interrupted: boolean
  keep?: ReplyFilter | undefined
  /** Sent without NLM_F_ACK (see requestQuiet): settled by its failure, or by the answer to a later request. */
  quiet?: boolean | undefined
  /** Place in the order the socket sent its requests (set by flush; none for one sent off the loop). */
  order?: number | undefined
  resolve(replies: NlReply[]): void
  reject(err: Error): void
}

export class RtnlSocket {
  private readonly raw: RawRtnl
  readonly port: number
  private readonly fd: number
  private readonly watchers = new Set<MessageWatcher>()
  private readonly groupUsers = new Map<number, number>()
  private seq = 1
  private readonly inFlight = new Map<number, Pending>()
  private readonly outbox: Pending[] = []
  private readonly dumpQueue: Pending[] = []
  private dumpActive = false
  /** Quiet requests in flight, in the order they were sent. */
  private readonly quiet: Pending[] = []
  private sentCount = 0
  private flushScheduled = false
  private closed = false
  private referenced = true
  /** Every datagram sent from a pool thread, in order (RtnlSocketOptions.sendOffLoop), when set. */
  private readonly offLoop: OffLoopSends | undefined

  private constructor(ns: NetnsRef | undefined, protocol: number, opts: RtnlSocketOptions & RawRtnlOptions) {
    const r = openRawRtnl(ns, protocol, {
      datagram: (buf, n) => this.onDatagram(buf, n),
      truncated: (n) => this.failInFlight(new KvmnetError(`rtnetlink reply truncated: a datagram of ${n} bytes did not fit the receive buffer and was lost`)),
      error: (err) => this.failInFlight(new SystemError({ errno: err.errno, syscall: err.syscall, message: `rtnetlink socket: ${err.message}`, cause: err.cause ?? err })),
    }, opts)
    this.raw = r
    this.port = r.port
    this.fd = r.fd
    this.offLoop = opts.sendOffLoop === true && canSendNetlinkOffLoop() ? new OffLoopSends(r.fd, () => this.closed) : undefined
    this.updateRef()
  }

  /** A socket in `ns` (the current namespace when omitted). */
  static open(ns?: NetnsRef, protocol = NETLINK_ROUTE, opts: RtnlSocketOptions & RawRtnlOptions = {}): RtnlSocket {
    return new RtnlSocket(ns, protocol, opts)
  }

  /** Requests sent and not yet answered, plus those queued. */
  get pending(): number {
    return this.inFlight.size + this.outbox.length + this.dumpQueue.length
  }

  /** Send a request and resolve with the data replies that preceded its ack (asked for here when the encoder did not). */
  request(msg: Buffer, meta: RequestMeta = {}): Promise<NlReply[]> {
    return new Promise((resolve, reject) => this.enqueue(this.pendingFor(msg, meta, false, resolve, reject)))
  }

  /** Send a dump request (NLM_F_DUMP) and resolve with every entry; retried when the kernel flags it inconsistent. */
  async dump(msg: Buffer, meta: DumpMeta = {}): Promise<NlReply[]> {
    const op = meta.op ?? RTM_NAMES[decodeHeader(msg).type] ?? 'dump'
    return dumpConsistently(
      () =>
        new Promise<DumpAttempt<NlReply>>((resolve, reject) => {
          const p = this.pendingFor(Buffer.from(msg), meta, true, (r) => resolve({ replies: r, interrupted: p.interrupted }), reject)
          p.keep = meta.keep
          this.dumpQueue.push(p)
          this.pumpDumps()
        }),
      op,
    )
  }

  /**
   * Like request(), for a request whose success needs no answer of its own: sent without NLM_F_ACK, so
   * only a failure is answered (as request()'s NetlinkError), and a success is known when the kernel answers
   * a request sent after it on this socket — it runs one socket's requests in the order they were sent.
   * The last request of each datagram asks for its ack, so every quiet request is settled. Each ack is a
   * datagram of its own, read with two recvmsg and a call into JS: 600 tc requests of 100 shaped ports
   * acked one by one cost more of the event loop than the kernel's work on them.
   */
  requestQuiet(msg: Buffer, meta: RequestMeta = {}): Promise<NlReply[]> {
    return new Promise((resolve, reject) => {
      const p = this.pendingFor(msg, meta, false, resolve, reject, true)
      this.enqueue(p)
    })
  }

  /**
   * Many requests at once, packed into as few datagrams as possible. Each result is that request's own:
   * one refused request does not fail the others (the kernel goes on with the rest of a datagram).
   */
  batch(items: readonly BatchItem[]): Promise<BatchResult[]> {
    return Promise.all(
      items.map((it) =>
        this.request(it.msg, it).then(
          (replies): BatchResult => ({ ok: true, replies }),
          (error: Error): BatchResult => ({ ok: false, error }),
        ),
      ),
    )
  }

  /**
   * Like request(), for one request the kernel carries out slowly inside sendmsg (a link delete waits there
   * for an RCU barrier after releasing the rtnl lock): sent alone, from a pool thread, so the event loop
   * keeps running meanwhile; its ack is read here as any other. On the loop when the addon cannot.
   */
  requestOffLoop(msg: Buffer, meta: RequestMeta = {}): Promise<NlReply[]> {
    if (!canSendNetlinkOffLoop()) return this.request(msg, meta)
    return new Promise((resolve, reject) => {
      const p = this.pendingFor(msg, meta, false, resolve, reject)
      if (this.closed) {
        p.reject(new KvmnetError(`rtnetlink socket is closed (${p.op}${p.object ? ` ${p.object}` : ''})`))
        return
      }
      p.seq = this.nextSeq()
      setSeq(p.msg, p.seq)
      setPid(p.msg, this.port)
      this.inFlight.set(p.seq, p)
      this.updateRef()
      const failed: SendFailed = (error) => {
        if (this.inFlight.get(p.seq) !== p) return
        this.settle(p, new SystemError({ errno: error.errno ?? 0, syscall: 'sendmsg', message: `rtnetlink sendmsg failed: ${error.message}`, cause: error }))
      }
      // On a socket that sends everything off the loop: after what was sent before it, without holding
      // back what comes after (a delete waits in the kernel for an RCU barrier); else at once.
      if (this.offLoop) this.offLoop.send(p.msg, failed, false)
      else native.netlinkSendOffLoop!(this.fd, p.msg).catch(failed)
    })
  }

  /**
   * Joins multicast group `group` (an RTNLGRP_*) and hands every message the socket receives to `watch`
   * until the returned function is called (the group is left when its last watcher goes).
   */
  watchGroup(group: number, watch: MessageWatcher): () => void {
    const users = this.groupUsers.get(group) ?? 0
    if (users === 0) native.setsockoptInt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
    this.groupUsers.set(group, users + 1)
    this.watchers.add(watch)
    let done = false
    return () => {
      if (done) return
      done = true
      this.watchers.delete(watch)
      const left = (this.groupUsers.get(group) ?? 1) - 1
      if (left > 0) this.groupUsers.set(group, left)
      else {
        this.groupUsers.delete(group)
        if (!this.closed) native.setsockoptInt(this.fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, group)
      }
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.raw.close()
    const err = (p: Pending): KvmnetError => new KvmnetError(`rtnetlink socket closed before the kernel answered ${p.op}${p.object ? ` (${p.object})` : ''}`)
    for (const p of [...this.inFlight.values(), ...this.outbox, ...this.dumpQueue]) p.reject(err(p))
    this.inFlight.clear()
    this.quiet.length = 0
    this.outbox.length = 0
    this.dumpQueue.length = 0
  }

  [Symbol.dispose](): void {
    this.close()
  }

  private pendingFor(msg: Buffer, meta: RequestMeta, dump: boolean, resolve: (r: NlReply[]) => void, reject: (e: Error) => void, quiet = false): Pending {
    const { type, flags } = decodeHeader(msg)
    // A request is complete at its ack: without NLM_F_ACK the kernel answers a GET (or reports a failure)
    // but never says a success is over, and the request would wait forever. Set here, like seq and pid
    // (for a quiet one, cleared here and set again by flush if it ends its datagram).
    if (quiet) msg.writeUInt16LE(flags & ~NLM_F_ACK, 6)
    else if (!dump && !(flags & NLM_F_ACK)) msg.writeUInt16LE(flags | NLM_F_ACK, 6)
    return { seq: 0, msg, op: meta.op ?? RTM_NAMES[type] ?? `nlmsg type ${type}`, object: meta.object, dump, replies: [], interrupted: false, quiet, resolve, reject }
  }

  private enqueue(p: Pending): void {
    if (this.closed) {
      p.reject(new KvmnetError(`rtnetlink socket is closed (${p.op}${p.object ? ` ${p.object}` : ''})`))
      return
    }
    this.outbox.push(p)
    this.updateRef()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      // setImmediate rather than a microtask: requests issued from many async functions in the same
      // turn (Promise.all over a list) all make it into the same datagrams.
      setImmediate(() => {
        this.flushScheduled = false
        this.flush()
      })
    }
  }

  private pumpDumps(): void {
    if (this.dumpActive || this.closed) return
    const next = this.dumpQueue.shift()
    if (!next) return
    this.dumpActive = true
    this.enqueue(next)
  }

  private nextSeq(): number {
    do {
      this.seq = (this.seq + 1) >>> 0
    } while (this.seq === 0 || this.inFlight.has(this.seq))
    return this.seq
  }

  private flush(): void {
    if (this.closed) return
    while (this.outbox.length > 0 && this.inFlight.size < MAX_IN_FLIGHT) {
      const datagram: Buffer[] = []
      const members: Pending[] = []
      let bytes = 0
      while (this.outbox.length > 0 && this.inFlight.size < MAX_IN_FLIGHT) {
        const p = this.outbox[0]!
        if (bytes > 0 && bytes + p.msg.length > MAX_DATAGRAM_BYTES) break
        this.outbox.shift()
        p.seq = this.nextSeq()
        setSeq(p.msg, p.seq)
        setPid(p.msg, this.port)
        this.inFlight.set(p.seq, p)
        p.order = ++this.sentCount
        datagram.push(p.msg)
        members.push(p)
        bytes += p.msg.length
      }
      // A quiet request ending its datagram is acked: the quiet ones before it are settled by that ack.
      const last = members[members.length - 1]!
      if (last.quiet) {
        last.quiet = false
        last.msg.writeUInt16LE(last.msg.readUInt16LE(6) | NLM_F_ACK, 6)
      }
      for (const p of members) if (p.quiet) this.quiet.push(p)
      const failed: SendFailed = (error) => {
        const err = new SystemError({ errno: error.errno ?? 0, syscall: 'sendmsg', message: `rtnetlink sendmsg failed: ${error.message}`, cause: error })
        for (const p of members) if (this.inFlight.get(p.seq) === p) this.settle(p, err)
      }
      if (this.offLoop) this.offLoop.send(datagram.length === 1 ? datagram[0]! : Buffer.concat(datagram), failed)
      else this.raw.send(datagram, failed)
    }
  }

  private onDatagram(buf: Buffer, n: number): void {
    // The headers are read in place (no object per message, as splitMessages makes): a dump page holds
    // ~20 links, a run of acks hundreds, and only the replies kept are worth an object.
    let off = 0
    // A handler may close the socket: nothing after that is handed on.
    while (off + NLMSG_HDRLEN <= n && !this.closed) {
      const len = buf.readUInt32LE(off)
      if (len < NLMSG_HDRLEN || off + len > n) break
      const at = off
      off += align4(len)
      const type = buf.readUInt16LE(at + 4)
      for (const w of this.watchers) w(type, buf, at + NLMSG_HDRLEN, at + len)
      const p = this.inFlight.get(buf.readUInt32LE(at + 8))
      if (!p || buf.readUInt32LE(at + 12) !== this.port) continue
      const flags = buf.readUInt16LE(at + 6)
      // The kernel answers p, so it has run every request sent before it: the quiet ones among them that it
      // did not refuse (a refusal is answered, and read, before p's answer) succeeded.
      if ((type === NLMSG_ERROR || type === NLMSG_DONE) && p.order !== undefined) this.settleQuietBefore(p.order)
      // An ack or a dump's end with error 0 (nearly every answer) is settled without parsing it further.
      if ((type === NLMSG_ERROR || type === NLMSG_DONE) && (len < NLMSG_HDRLEN + 4 || buf.readInt32LE(at + NLMSG_HDRLEN) === 0)) this.settle(p, p.replies)
      else if (type === NLMSG_ERROR) {
        const e = parseNlError(buf.subarray(at + NLMSG_HDRLEN, at + len), flags)
        if (e.errno === 0) this.settle(p, p.replies)
        else this.settle(p, new NetlinkError({ errno: e.errno, op: p.op, object: p.object, extAck: e.message }))
      } else if (type === NLMSG_DONE) {
        const d = parseDone(buf.subarray(at + NLMSG_HDRLEN, at + len), flags)
        if (d.errno === 0) this.settle(p, p.replies)
        else this.settle(p, new NetlinkError({ errno: d.errno, op: p.op, object: p.object, extAck: d.message }))
      } else if (type !== NLMSG_NOOP && type !== NLMSG_OVERRUN) {
        if (flags & NLM_F_DUMP_INTR) p.interrupted = true
        if (p.keep && !p.keep(buf, at + NLMSG_HDRLEN, at + len)) continue
        // The datagram's buffer is read into again for the next one: what is kept is copied out (small
        // copies share Node's pooled slabs rather than a malloc each).
        const payload = Buffer.allocUnsafe(len - NLMSG_HDRLEN)
        buf.copy(payload, 0, at + NLMSG_HDRLEN, at + len)
        p.replies.push({ type, flags, payload })
      }
    }
  }

  private settle(p: Pending, outcome: NlReply[] | Error): void {
    this.inFlight.delete(p.seq)
    if (outcome instanceof Error) p.reject(outcome)
    else p.resolve(outcome)
    if (p.dump) {
      this.dumpActive = false
      this.pumpDumps()
    }
    // Only a queue the in-flight window held back is sent from here; one that a flush is already scheduled
    // for waits for it. Otherwise each ack of a run (read one by one, each settled with its continuation run
    // in between) would send the single request its predecessor's continuation queued: chains of requests
    // per device (a qdisc, then its class, then its filter) went out one per sendmsg, 600 for 100 shaped ports.
    if (this.outbox.length > 0 && !this.flushScheduled) this.flush()
    this.updateRef()
  }

  private settleQuietBefore(order: number): void {
    while (this.quiet.length > 0 && this.quiet[0]!.order! < order) {
      const q = this.quiet.shift()!
      if (this.inFlight.get(q.seq) !== q) continue
      this.inFlight.delete(q.seq)
      q.resolve(q.replies)
    }
  }

  /** The kernel lost replies (ENOBUFS) or the socket failed: nothing in flight can be trusted to settle. */
  private failInFlight(err: Error): void {
    for (const p of [...this.inFlight.values()]) this.settle(p, err)
    this.quiet.length = 0
  }

  private updateRef(): void {
    if (this.closed) return
    const want = this.pending > 0
    if (want === this.referenced) return
    this.referenced = want
    if (want) this.raw.ref()
    else this.raw.unref()
  }
}
