/**
 * Which sockets in a namespace take the ports a network's dnsmasq needs. A socket bound to a device
 * (SO_BINDTODEVICE, as dnsmasq binds its DHCP socket, libvirt's and every other kvmnet network's alike) is
 * `0.0.0.0%DEV:67` in ss's words; the kernel lets sockets bound to different devices share an address and
 * port, so only a socket bound to no device, or to the network's own bridge, is a conflict.
 *
 * The sockets come from the kernel's socket diagnostics (sock-diag.ts), their owners from /proc/PID/fd, as
 * `ss -lnp` finds them — without running ss in the namespace.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { KernelFeatureError, NetlinkError } from '../errors.js'
import type { NetnsRef } from '../netns/index.js'
import { RtnlSocket, type Rtnl } from '../rtnl/index.js'
import { NETLINK_SOCK_DIAG, decodeInetDiag, encodeListeningDump, type DiagSocket } from './sock-diag.js'

export interface Listener {
  proto: 'udp' | 'tcp'
  /** As ss prints it without brackets: '0.0.0.0', '*', '::', '10.0.0.1'. */
  addr: string
  /** The device the socket is bound to (the `%DEV` of ss), if any. */
  device?: string
  port: number
  pid?: number
  comm?: string
}

/** Listening TCP and unconnected UDP sockets of both families in `ns`, with their processes. */
export async function listeners(ns: NetnsRef, rtnl: Rtnl): Promise<Listener[]> {
  const sockets: DiagSocket[] = []
  const sock = RtnlSocket.open(ns, NETLINK_SOCK_DIAG)
  try {
    for (const proto of ['udp', 'tcp'] as const) {
      for (const family of [4, 6] as const) {
        let replies
        try {
          replies = await sock.dump(encodeListeningDump(family, proto), { object: `${proto}${family === 6 ? '6' : ''} sockets` })
        } catch (err) {
          // The kernel has no inet_diag handler for the protocol (CONFIG_INET_DIAG / INET_UDP_DIAG off, the
          // module not loadable): say so rather than report no sockets.
          if (err instanceof NetlinkError && (err.code === 'ENOENT' || err.code === 'EOPNOTSUPP')) {
            throw new KernelFeatureError(`${proto}_diag`, 'doctor', 'socket diagnostics: CONFIG_INET_DIAG and CONFIG_INET_UDP_DIAG, or modules inet_diag, tcp_diag, udp_diag', err)
          }
          throw err
        }
        for (const r of replies) {
          const s = decodeInetDiag(r.payload, proto)
          if (s) sockets.push(s)
        }
      }
    }
  } finally {
    sock.close()
  }
  const owners = socketOwners(new Set(sockets.map((s) => s.inode).filter((i) => i !== 0)))
  const devices = new Map<number, string | undefined>()
  for (const index of new Set(sockets.map((s) => s.ifindex).filter((i) => i !== 0))) devices.set(index, (await rtnl.findLink(index))?.name)
  return sockets.map((s) => {
    const owner = owners.get(s.inode)
    const device = s.ifindex === 0 ? undefined : (devices.get(s.ifindex) ?? String(s.ifindex))
    return { proto: s.proto, addr: s.addr, ...(device ? { device } : {}), port: s.port, ...(owner ? { comm: owner.comm, pid: owner.pid } : {}) }
  })
}

/**
 * The first process (in /proc order, as ss lists it first) holding each socket inode: each process's fds
 * read as `socket:[INODE]`. A process that exits meanwhile, or whose fds are not readable, is skipped.
 */
function socketOwners(inodes: ReadonlySet<number>): Map<number, { pid: number; comm: string }> {
  const out = new Map<number, { pid: number; comm: string }>()
  if (inodes.size === 0) return out
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const fds = listOrNothing(() => readdirSync(`/proc/${entry}/fd`))
    for (const fd of fds) {
      const target = listOrNothing(() => [readlinkSync(`/proc/${entry}/fd/${fd}`)])[0]
      const m = target === undefined ? null : /^socket:\[(\d+)\]$/.exec(target)
      const inode = m ? Number(m[1]) : undefined
      if (inode === undefined || !inodes.has(inode) || out.has(inode)) continue
      const comm = listOrNothing(() => [readFileSync(`/proc/${entry}/comm`, 'utf8').trim()])[0]
      if (comm !== undefined) out.set(inode, { pid: Number(entry), comm })
    }
    if (out.size === inodes.size) break
  }
  return out
}

/** A process gone between two reads (ENOENT, ESRCH) or not ours to look into (EACCES): nothing to read. */
function listOrNothing<T>(read: () => T[]): T[] {
  try {
    return read()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') return []
    throw err
  }
}

/** The socket a network's dnsmasq binds: a port on its bridge address, received on its bridge. */
export interface WantedSocket {
  proto: 'udp' | 'tcp'
  port: number
  hostAddress: string
  bridge: string | undefined
}

/**
 * The sockets a network's dnsmasq binds: DHCP on its IPv4 address, DNS on each host address (IPv4 and
 * IPv6: an IPv6-only network's dnsmasq answers DNS on its IPv6 address alone). DHCPv6 is not listed:
 * dnsmasq binds it to the wildcard, shared by every dnsmasq of the namespace.
 */
export function wantedSockets(d: { hostAddress?: string | undefined; dns?: unknown; ipv6?: { hostAddress: string } | undefined }, bridge: string | undefined): WantedSocket[] {
  const dhcp: WantedSocket[] = d.hostAddress !== undefined ? [{ proto: 'udp', port: 67, hostAddress: d.hostAddress, bridge }] : []
  if (d.dns === false) return dhcp
  const dns = [d.hostAddress, d.ipv6?.hostAddress].flatMap((hostAddress) => (hostAddress === undefined ? [] : (['udp', 'tcp'] as const).map((proto) => ({ proto, port: 53, hostAddress, bridge }))))
  return [...dhcp, ...dns]
}

/** `l` takes `want`'s port: same protocol and port, its address or a wildcard of its family, and no other device. */
export function takes(l: Listener, want: WantedSocket): boolean {
  if (l.proto !== want.proto || l.port !== want.port) return false
  // ss prints a dual-stack wildcard as `*`, an IPv4-only one as 0.0.0.0, an IPv6-only one as `::`.
  const wildcard = want.hostAddress.includes(':') ? '::' : '0.0.0.0'
  if (l.addr !== want.hostAddress && l.addr !== wildcard && l.addr !== '*') return false
  return l.device === undefined || l.device === want.bridge
}
