/**
 * A NETLINK_ROUTE socket that belongs to a given namespace: a netlink socket talks to the namespace it
 * was created in for its whole life, so it is created with the thread briefly inside that namespace.
 */
import { constants as os } from 'node:os'
import type { RawNetlinkSocket } from 'netlink'
import { KvmnetError, SystemError } from '../errors.js'
import { native } from '../native/index.js'
import { loadNetlinkRaw, type NetlinkModule } from './netlink-package.js'
import type { NetnsRef } from '../netns/index.js'
import {
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_ROUTE,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVBUFFORCE,
  SO_SNDBUFFORCE,
} from './wire/constants.js'

/**
 * Room for the acks of a full pipelining window: the kernel drops (ENOBUFS) replies that do not fit the
 * receive buffer, and a dropped ack is a request that never settles.
 */
export const RECV_BUFFER_BYTES = 8 << 20
export const SEND_BUFFER_BYTES = 2 << 20

export interface RawRtnl {
  raw: RawNetlinkSocket
  port: number
  fd: number
}

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
export function isOwnNetlinkPort(port: number, pid = process.pid): boolean {
  return port !== 0 && ((port >>> 0) & 0x3fffff) === (pid & 0x3fffff)
}

function bindSomewhere(protocol: number): { raw: RawNetlinkSocket; port: number } {
  const { generateLocalPort, RawNetlinkSocket } = netlink()
  for (let tries = 0; tries < 64; tries++) {
    // The package builds the id as (counter << 22) | pid with a counter that runs to 1023: from the 512th
    // socket of a process on, the shift reaches bit 31 and the id comes out negative. The kernel takes it
    // as the same u32 (the bind succeeds); kvmnet's own lookups need it as one.
    const port = generateLocalPort() >>> 0
    try {
      const raw = new RawNetlinkSocket(protocol, { localPort: port, recvBufferSize: 0, sendBufferSize: 0 })
      return { raw, port }
    } catch (err) {
      if ((err as { errno?: number }).errno === os.errno.EADDRINUSE) continue
      const e = err as { errno?: number; syscall?: string }
      if (typeof e.errno === 'number') throw new SystemError({ errno: e.errno, syscall: e.syscall ?? 'socket', message: `cannot open an rtnetlink socket: ${String((err as Error).message)}`, cause: err })
      throw err
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
export function openRawRtnl(ns?: NetnsRef, protocol = NETLINK_ROUTE): RawRtnl {
  const bind = () => bindSomewhere(protocol)
  const { raw, port } = ns && !ns.isCurrent ? native.withNetns(ns.path, bind) : bind()
  try {
    const fd = native.findNetlinkFd(port, protocol)
    if (fd < 0) throw new KvmnetError(`rtnetlink socket bound to port ${port} not found among this process's fds`)
    // Extended acks carry the kernel's reason; strict checking makes dumps honour their filters (and
    // reject malformed requests instead of ignoring them); capped acks keep each ack ~36 bytes.
    native.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1)
    native.setsockoptInt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    native.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1)
    // The FORCE variants exceed net.core.rmem_max but need CAP_NET_ADMIN; fall back to the capped ones.
    if (!trySetsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER_BYTES)) raw.setRecvBufferSize(RECV_BUFFER_BYTES)
    if (!trySetsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, SEND_BUFFER_BYTES)) raw.setSendBufferSize(SEND_BUFFER_BYTES)
    // The netlink package reads each datagram at its exact size, which keeps the kernel's dump pages ~4 KiB;
    // one large read raises them to ~32 KiB (a 1000-link dump: ~50 datagrams instead of ~500).
    native.netlinkWidenDumps(fd)
    return { raw, port, fd }
  } catch (err) {
    raw.close()
    throw err
  }
}
