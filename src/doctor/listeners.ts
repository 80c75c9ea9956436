/**
 * Which sockets in a namespace take the ports a network's dnsmasq needs. `ss` shows a socket bound to a
 * device (SO_BINDTODEVICE, as dnsmasq binds its DHCP socket, libvirt's and every other kvmnet network's
 * alike) as `0.0.0.0%DEV:67`; the kernel lets sockets bound to different devices share an address and
 * port, so only a socket bound to no device, or to the network's own bridge, is a conflict.
 */
import type { Netns } from '../netns/index.js'
import { nsCommand } from '../netns/index.js'
import { runProgram } from '../util/index.js'

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

/** One line of `ss -Hln{u,t}p` (fields: state, recv-q, send-q, local, peer, users). */
export function parseListener(line: string, proto: 'udp' | 'tcp'): Listener | undefined {
  const local = line.trim().split(/\s+/)[3]
  if (!local) return undefined
  const at = local.lastIndexOf(':')
  if (at <= 0) return undefined
  const host = local.slice(0, at)
  const pct = host.indexOf('%')
  const addr = (pct < 0 ? host : host.slice(0, pct)).replace(/^\[|\]$/g, '')
  const device = pct < 0 ? undefined : host.slice(pct + 1).replace(/\]$/, '')
  const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(line)
  return { proto, addr, ...(device ? { device } : {}), port: Number(local.slice(at + 1)), ...(m ? { comm: m[1], pid: Number(m[2]) } : {}) }
}

/** Listening UDP/TCP sockets with their processes (ss -p), inside the namespace. */
export async function listeners(ns: Netns): Promise<Listener[]> {
  const out: Listener[] = []
  for (const [proto, flag] of [['udp', '-Hlnup'], ['tcp', '-Hlntp']] as const) {
    const cmd = nsCommand(ns, 'ss', [flag])
    const r = await runProgram(cmd.file, cmd.args, { timeoutMs: 10_000 })
    for (const line of r.stdout.split('\n')) {
      const l = parseListener(line, proto)
      if (l) out.push(l)
    }
  }
  return out
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
