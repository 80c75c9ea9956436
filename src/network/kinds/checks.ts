/**
 * Relational checks several kinds share: addresses inside their subnet, DHCP ranges and reservations,
 * forwards, ports. Each names the field as the user wrote it.
 */
import { ipaddr } from '../../util/index.js'
import type { Dhcp4Spec, Dhcp6Spec, ForwardSpec, IssueSink, MacvtapPortSpec, NetworkSpec, TapPortSpec } from '../spec.js'
import { defaultBridgeName } from '../names.js'
import { hostIpv4Of, hostIpv6Of } from './spec-parts.js'
import { checkSubnets } from './checks-ip.js'

/** A Linux bridge numbers its ports 1–1023 (BR_MAX_PORTS is 1024, port 0 unused). */
export const MAX_BRIDGE_PORTS = 1023

function v4num(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0)
}

interface Subnet4 {
  cidr: [ipaddr.IPv4, number]
  net: string
  bcast: string
  host: string
}

function subnet4(address: string): Subnet4 {
  return {
    cidr: ipaddr.IPv4.parseCIDR(address),
    net: ipaddr.IPv4.networkAddressFromCIDR(address).toString(),
    bcast: ipaddr.IPv4.broadcastAddressFromCIDR(address).toString(),
    host: address.slice(0, address.indexOf('/')),
  }
}

/** An address that must be a guest's inside the subnet: not the network, broadcast or host address. */
function checkInside(sub: Subnet4, field: string, ip: string, bad: IssueSink): void {
  if (!ipaddr.IPv4.parse(ip).match(sub.cidr)) bad(field, `${ip} is outside ${sub.net}/${sub.cidr[1]}`)
  else if (ip === sub.net || ip === sub.bcast) bad(field, `${ip} is the network or broadcast address`)
  else if (ip === sub.host) bad(field, `${ip} is the host's own address`)
}

/** The host addresses, DHCP ranges and reservations of every IPv4 subnet (`ipv4.address`, `ipv4.extra`). */
export function checkIpv4(ipv4: { address?: string | undefined; dhcp?: Dhcp4Spec | undefined; extra?: readonly { address: string; dhcp?: Dhcp4Spec | undefined }[] | undefined } | undefined, bad: IssueSink): void {
  checkSubnets('ipv4', ipv4, bad)
}

/** The host's addresses on the bridge: the first of each family, then the further subnets. */
export function bridgeAddresses(spec: { ipv4?: { address?: string | undefined; extra?: readonly { address: string }[] | undefined } | undefined; ipv6?: { address: string; extra?: readonly { address: string }[] | undefined } | undefined }): { v4?: string | undefined; v6?: string | undefined; extra: string[] } {
  const v4 = spec.ipv4?.address
  return { v4, v6: spec.ipv6?.address, extra: [...(v4 !== undefined ? (spec.ipv4?.extra ?? []) : []), ...(spec.ipv6?.extra ?? [])].map((e) => e.address) }
}

/** One of ipv4 and ipv6 (an IPv6-only network needs no IPv4). */
export function checkSomeAddress(spec: { ipv4?: unknown; ipv6?: unknown }, bad: IssueSink): void {
  if (spec.ipv4 === undefined && spec.ipv6 === undefined) bad('ipv4', 'give ipv4, ipv6 or both')
}

/** Whether two forwards can match the same connection: same protocol, overlapping ports, a common host address. */
export function forwardsOverlap(f: ForwardSpec, g: ForwardSpec): boolean {
  const [a1, a2] = typeof f.hostPort === 'number' ? [f.hostPort, f.hostPort] : f.hostPort
  const [b1, b2] = typeof g.hostPort === 'number' ? [g.hostPort, g.hostPort] : g.hostPort
  const sameAddress = !f.hostAddress || !g.hostAddress || f.hostAddress === g.hostAddress
  const sameInterface = !f.inInterface || !g.inInterface || f.inInterface === g.inInterface
  return f.proto === g.proto && f.guest.includes(':') === g.guest.includes(':') && sameAddress && sameInterface && a1 <= b2 && a2 >= b1
}

/**
 * The DNS (53) or DHCP (67, DHCPv6 547) service a forward would capture from the dnsmasq answering on one
 * of `serviceAddresses` (a kvmnet network's host addresses): one matching any host address catches them
 * all (and the host's 127.0.0.1:53) and hands the guests' resolver to one guest, as does one naming such
 * an address. Undefined when it captures none.
 */
export function capturedService(f: Pick<ForwardSpec, 'proto' | 'hostPort' | 'hostAddress' | 'inInterface'>, serviceAddresses: readonly string[]): string | undefined {
  const [lo, hi] = typeof f.hostPort === 'number' ? [f.hostPort, f.hostPort] : f.hostPort
  const captures = (p: number) => lo <= p && p <= hi
  const catchAll = f.hostAddress === undefined && f.inInterface === undefined
  if (!catchAll && (f.hostAddress === undefined || !serviceAddresses.includes(f.hostAddress))) return undefined
  if (captures(53) && (f.proto === 'udp' || f.proto === 'tcp')) return 'DNS (53)'
  if (f.proto !== 'udp') return undefined
  return captures(67) ? 'DHCP (67)' : captures(547) ? 'DHCPv6 (547)' : undefined
}

/** The host addresses a network's dnsmasq answers on (its bridge's ipv4.address and ipv6.address). */
export function hostAddressesOf(spec: NetworkSpec): string[] {
  return [hostIpv4Of(spec), hostIpv6Of(spec)].filter((a): a is string => a !== undefined).map((a) => a.split('/')[0] ?? a)
}

/** Port forwards of a nat network: guests inside the subnet, ranges in order, no overlap. */
export function checkForwards(forwards: readonly ForwardSpec[] | undefined, address: string | undefined, address6: string | undefined, bad: IssueSink): void {
  if (!forwards) return
  const sub = address !== undefined ? subnet4(address) : undefined
  const seen: { proto: string; v6: boolean; lo: number; hi: number; hostAddress: string | undefined; i: number }[] = []
  forwards.forEach((f, i) => {
    const v6 = f.guest.includes(':')
    if (!v6 && !sub) bad(`forwards[${i}].guest`, 'an IPv4 guest needs ipv4.address on the network')
    else if (!v6 && sub) checkInside(sub, `forwards[${i}].guest`, f.guest, bad)
    else if (!address6) bad(`forwards[${i}].guest`, 'an IPv6 guest needs ipv6.address on the network')
    else {
      const [net, len] = ipaddr.IPv6.parseCIDR(address6)
      const g = ipaddr.IPv6.parse(f.guest)
      if (!g.match(net, len)) bad(`forwards[${i}].guest`, `${f.guest} is outside ${address6}'s prefix`)
      else if (g.toNormalizedString() === net.toNormalizedString()) bad(`forwards[${i}].guest`, `${f.guest} is the host's own address`)
    }
    if (f.hostAddress !== undefined && f.hostAddress.includes(':') !== v6) bad(`forwards[${i}].hostAddress`, `must be of the guest's family (IPv${v6 ? 6 : 4})`)
    const [lo, hi] = typeof f.hostPort === 'number' ? [f.hostPort, f.hostPort] : f.hostPort
    if (lo > hi) bad(`forwards[${i}].hostPort`, 'range start is after its end')
    else if (f.guestPort !== undefined && f.guestPort + (hi - lo) > 65535) bad(`forwards[${i}].guestPort`, 'range runs past 65535')
    const service = capturedService(f, [...(sub ? [sub.host] : []), ...(address6 !== undefined ? [address6.split('/')[0] ?? ''] : [])])
    if (service) bad(`forwards[${i}].hostPort`, `would capture the network's own ${service}; restrict it with hostAddress (another address) or inInterface`)
    for (const g of seen) {
      // Two forwards collide on the same family, protocol and port when they can match the same host address.
      const sameAddress = !f.hostAddress || !g.hostAddress || f.hostAddress === g.hostAddress
      if (g.proto === f.proto && g.v6 === v6 && sameAddress && lo <= g.hi && hi >= g.lo) bad(`forwards[${i}].hostPort`, `overlaps forwards[${g.i}]`)
    }
    seen.push({ proto: f.proto, v6, lo, hi, hostAddress: f.hostAddress, i })
  })
}

/**
 * An IPv6 prefix guests get addresses from by router advertisement (whenever the network runs dnsmasq)
 * must be a /64: SLAAC forms 64-bit interface identifiers, and any other length leaves guests without one.
 */
export function checkIpv6(
  ipv6: { address: string; dhcp?: Dhcp6Spec | undefined; extra?: readonly { address: string; dhcp?: Dhcp6Spec | undefined }[] | undefined } | undefined,
  ipv4: { address?: string | undefined; dhcp?: unknown } | undefined,
  dns: unknown,
  bad: IssueSink,
): void {
  if (!ipv6) return
  // Without IPv4 dnsmasq runs for the IPv6 prefixes alone (router advertisements at least).
  const v4 = ipv4?.address !== undefined
  const runsDnsmasq = !v4 || ipv4.dhcp !== undefined || dns !== undefined || ipv6.dhcp !== undefined || (ipv6.extra ?? []).some((e) => e.dhcp)
  const prefixes = [{ address: ipv6.address, at: 'ipv6' }, ...(ipv6.extra ?? []).map((e, i) => ({ address: e.address, at: `ipv6.extra[${i}]` }))]
  for (const p of prefixes) {
    const len = Number(p.address.split('/')[1])
    if (runsDnsmasq && len !== 64) bad(`${p.at}.address`, `guests get IPv6 addresses by SLAAC, which needs a /64 prefix, not /${len}`)
  }
  checkSubnets('ipv6', ipv6, bad)
}

/** DNS is served on the host address: a kind without one cannot serve it. */
export function checkDns(dns: unknown, address: string | undefined, bad: IssueSink): void {
  if (dns !== undefined && !address) bad('dns', 'DNS needs a host address to listen on (ipv4.address or ipv6.address)')
}

/**
 * The names a bridged network's own links have, or that it uses (its bridge, by default kvbr-<name>; the
 * uplink; the vxlan underlay): a port named like one of them would be refused by the kernel half-way
 * through an apply, or be the uplink itself.
 */
export function bridgedNames(spec: { name: string; bridge?: string | undefined; uplink?: string | undefined; vxlan?: { underlay?: string | undefined } | undefined }): { name: string; field: string }[] {
  return [
    { name: spec.bridge ?? defaultBridgeName(spec.name), field: 'bridge' },
    ...(spec.uplink !== undefined ? [{ name: spec.uplink, field: 'uplink' }] : []),
    ...(spec.vxlan?.underlay !== undefined ? [{ name: spec.vxlan.underlay, field: 'vxlan underlay' }] : []),
  ]
}

/** The loopback device carries no guest: the kernel refuses it as a bridge port and as a macvtap parent. */
export function checkNotLoopback(nic: string, bad: IssueSink): void {
  if (nic === 'lo') bad('interface', 'is the loopback device; guests need an Ethernet NIC')
}

/** Port names and MACs unique, none named like the bridge or NIC, no more than the bridge can take. */
export function checkPorts(
  ports: readonly (TapPortSpec | MacvtapPortSpec)[] | undefined,
  bad: IssueSink,
  opts: { taken: { name: string; field: string }[]; maxPorts?: number | undefined; noFilters?: string | undefined },
): void {
  if (!ports) return
  if (opts.maxPorts !== undefined && ports.length > opts.maxPorts) {
    bad('ports', `${ports.length} ports; a Linux bridge takes at most ${opts.maxPorts} here`)
  }
  const names = new Map<string, number>()
  const macs = new Map<string, number>()
  ports.forEach((p, i) => {
    const prev = names.get(p.name)
    if (prev !== undefined) bad(`ports[${i}].name`, `duplicates ports[${prev}].name`)
    names.set(p.name, i)
    if (opts.noFilters && 'filtering' in p && p.filtering) bad(`ports[${i}].filtering`, `${opts.noFilters} networks have no firewall to filter in (nat, routed or isolated do)`)
    const taken = opts.taken.find((t) => t.name === p.name)
    if (taken) bad(`ports[${i}].name`, `is the ${taken.field} name`)
    if (p.mac) {
      const m = p.mac.toLowerCase()
      const pm = macs.get(m)
      if (pm !== undefined) bad(`ports[${i}].mac`, `duplicates ports[${pm}].mac`)
      macs.set(m, i)
    }
  })
}
