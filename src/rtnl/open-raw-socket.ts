/**
 * A NETLINK_ROUTE socket that belongs to a given namespace: a netlink socket talks to the namespace it
 * was created in for its whole life, so it is created with the thread briefly inside that namespace.
 */
import { constants as os } from 'node:os'
import type { RawNetlinkSocket } from 'netlink'
import { KvmnetError, SystemError } from '../errors.js'
import { native, openNetlinkSocket } from '../native/index.js'
import { loadNetlinkRaw, type NetlinkModule } from './netlink-package.js'
import type { NetnsRef } from '../netns/index.js'
import {
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_ROUTE,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
} from './wire/constants.js'

/**
 * Room for the acks of a full pipelining window: the kernel drops (ENOBUFS) replies that do not fit the
 * receive buffer, and a dropped ack is a request that never settles.
 */
export const RECV_BUFFER_BYTES = 8 << 20
export const SEND_BUFFER_BYTES = 2 << 20

/** What a socket's reader hands on: each callback runs before the next datagram is read. */
export interface RawRtnlEvents {
  /** One datagram, in buf[0, n): buf is reused for the next one, so nothing may keep a view of it. */
  datagram(buf: Buffer, n: number): void
  /** A datagram of n bytes did not fit the receive buffer: it is lost. */
  truncated(n: number): void
  /** The socket failed; ENOBUFS: the kernel dropped datagrams because the receive queue was full. */
  error(err: { errno: number; syscall: string; message: string; cause?: unknown }): void
}

export interface RawRtnl {
  port: number
  fd: number
  /** The Buffers as one datagram; `failed` is called (never synchronously) with the sendmsg error, if any. */
  send(datagram: Buffer[], failed: (err: { errno: number; message: string; cause?: unknown }) => void): void
  ref(): void
  unref(): void
  close(): void
}

export interface RawRtnlOptions {
  /**
   * Bytes of the buffer datagrams are read into (one shared 64 KiB buffer when omitted): a datagram that
   * does not fit is reported lost. The kernel fills dump datagrams up to 32 KiB.
   */
  recvBufferBytes?: number | undefined
}

/** Fits the kernel's largest dump datagram (32 KiB) with room for a single large reply. */
export const RECV_DATAGRAM_BYTES = 64 * 1024

/**
 * The buffer every kvmnet request socket of the process reads into: a datagram is decoded (and what is
 * kept copied out) in the callback that reports it, on the one JS thread, before any socket reads again.
 */
let sharedRecvBuffer: Buffer | undefined

let netlinkModule: NetlinkModule | undefined

/**
 * The raw socket of the `netlink` package, loaded on the first socket rather than at import — and only
 * its raw socket module: the package's index also builds its nl80211, WireGuard and generic-netlink
 * definitions, ~40-90 ms of start-up against ~5 ms (netlink is pinned to 0.3.0, whose package.json has no
 * `exports` map, so the file is reachable). A short-lived process (kvmnet-cni, a CLI command) pays it on
 * every run.
 */
function netlink(): NetlinkModule {
  // With its native binding found by path (netlink-package.ts).
  netlinkModule ??= loadNetlinkRaw(import.meta.url)
  return netlinkModule
}

/**
 * Whether a netlink port id is one of this process's sockets: the netlink package binds each to
 * (counter << 22) | (pid & 0x3FFFFF). A notification carries the port id of the socket whose request
 * caused it (0 for the kernel's own changes), so kvmnet tells its own changes from another program's.
 */
let portCounter = 32

/** The netlink package's scheme, (counter << 22) | pid, so that isOwnNetlinkPort holds for either socket. */
function nextLocalPort(): number {
  const port = ((portCounter << 22) | (process.pid & 0x3fffff)) >>> 0
  portCounter = (portCounter + 1) & 0x3ff
  return port
}

export function isOwnNetlinkPort(port: number, pid = process.pid): boolean {
  return port !== 0 && ((port >>> 0) & 0x3fffff) === (pid & 0x3fffff)
}

function bindError(err: unknown): Error {
  const e = err as { errno?: number; syscall?: string }
  if (typeof e.errno === 'number') return new SystemError({ errno: e.errno, syscall: e.syscall ?? 'socket', message: `cannot open an rtnetlink socket: ${String((err as Error).message)}`, cause: err })
  return err as Error
}

/** kvmnet's own socket (native/src/netlink_socket.cc), or undefined when the addon predates it. */
function bindOwn(protocol: number, events: RawRtnlEvents, opts: RawRtnlOptions): RawRtnl | undefined {
  const buf = opts.recvBufferBytes !== undefined ? Buffer.allocUnsafeSlow(opts.recvBufferBytes) : (sharedRecvBuffer ??= Buffer.allocUnsafeSlow(RECV_DATAGRAM_BYTES))
  const onEvent = (kind: 0 | 1 | 2 | 3, n: number): void => {
    if (kind === 0) events.datagram(buf, n)
    else if (kind === 1) events.truncated(n)
    else if (kind === 2) events.error({ errno: os.errno.ENOBUFS, syscall: 'recvmsg', message: 'the kernel dropped replies (ENOBUFS: receive queue full)' })
    else events.error({ errno: n, syscall: 'recvmsg', message: `recvmsg failed (errno ${n})` })
  }
  for (let tries = 0; tries < 64; tries++) {
    const port = nextLocalPort()
    let sock
    try {
      sock = openNetlinkSocket(protocol, port, buf, onEvent)
    } catch (err) {
      if ((err as { errno?: number }).errno === os.errno.EADDRINUSE) continue
      throw bindError(err)
    }
    if (!sock) return undefined
    const s = sock
    s.start()
    return {
      port,
      fd: s.fd,
      send(datagram, failed) {
        const errno = s.send(datagram)
        if (errno !== 0) process.nextTick(failed, { errno, message: `sendmsg failed (errno ${errno})` })
      },
      ref: () => s.ref(),
      unref: () => s.unref(),
      close: () => s.close(),
    }
  }
  throw new KvmnetError('no free netlink port id for an rtnetlink socket')
}

/** The `netlink` package's raw socket, for an addon without its own; each datagram is a fresh Buffer there. */
function bindPackage(protocol: number, events: RawRtnlEvents): RawRtnl {
  const { generateLocalPort, RawNetlinkSocket } = netlink()
  for (let tries = 0; tries < 64; tries++) {
    // The package builds the id as (counter << 22) | pid with a counter that runs to 1023: from the 512th
    // socket of a process on, the shift reaches bit 31 and the id comes out negative. The kernel takes it
    // as the same u32 (the bind succeeds); kvmnet's own lookups need it as one.
    const port = generateLocalPort() >>> 0
    let raw: RawNetlinkSocket
    try {
      raw = new RawNetlinkSocket(protocol, { localPort: port, recvBufferSize: 0, sendBufferSize: 0 })
    } catch (err) {
      if ((err as { errno?: number }).errno === os.errno.EADDRINUSE) continue
      throw bindError(err)
    }
    raw.on('message', (buf) => events.datagram(buf, buf.length))
    raw.on('truncatedMessage', (_buf, rinfo) => events.truncated(Number(rinfo.truncated ?? 0)))
    raw.on('error', (err) => events.error({ errno: err.errno ?? 0, syscall: err.syscall ?? 'recvmsg', message: err.message, cause: err }))
    const fd = native.findNetlinkFd(port, protocol)
    if (fd < 0) {
      raw.close()
      throw new KvmnetError(`rtnetlink socket bound to port ${port} not found among this process's fds`)
    }
    return {
      port,
      fd,
      send: (datagram, failed) => raw.send(datagram, {}, (error) => error && failed({ errno: error.errno ?? 0, message: error.message, cause: error })),
      ref: () => raw.ref(),
      unref: () => raw.unref(),
      close: () => raw.close(),
    }
  }
  throw new KvmnetError('no free netlink port id for an rtnetlink socket')
}

function trySetsockopt(fd: number, level: number, opt: number, value: number): boolean {
  try {
    native.setsockoptInt(fd, level, opt, value)
    return true
  } catch {
    return false
  }
}

/** A netlink socket in `ns`: NETLINK_ROUTE by default; NETLINK_NETFILTER for nf_tables queries. */
export function openRawRtnl(ns: NetnsRef | undefined, protocol: number, events: RawRtnlEvents, opts: RawRtnlOptions = {}): RawRtnl {
  const bind = (): RawRtnl => bindOwn(protocol, events, opts) ?? bindPackage(protocol, events)
  const raw = ns && !ns.isCurrent ? native.withNetns(ns.path, bind) : bind()
  try {
    const fd = raw.fd
    // Extended acks carry the kernel's reason; strict checking makes dumps honour their filters (and
    // reject malformed requests instead of ignoring them); capped acks keep each ack ~36 bytes.
    native.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1)
    native.setsockoptInt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    native.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1)
    // The FORCE variants exceed net.core.rmem_max but need CAP_NET_ADMIN; fall back to the capped ones.
    if (!trySetsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER_BYTES)) native.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, RECV_BUFFER_BYTES)
    if (!trySetsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, SEND_BUFFER_BYTES)) native.setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, SEND_BUFFER_BYTES)
    // The kernel fills a dump's datagrams up to the largest read the socket has seen (capped at 32 KiB):
    // one large read before the first dump makes even its first pages large (a 1000-link dump: ~50
    // datagrams instead of ~500 at the netlink package's exact-size reads).
    native.netlinkWidenDumps(fd)
    return raw
  } catch (err) {
    raw.close()
    throw err
  }
}
