/**
 * Relational checks several kinds share: addresses inside their subnet, DHCP ranges and reservations,
 * forwards, ports. Each names the field as the user wrote it.
 */
import { ipaddr } from '../../util/index.js'
import type { Dhcp4Spec, Dhcp6Spec, ForwardSpec, IssueSink, MacvtapPortSpec, NetworkSpec, TapPortSpec } from '../spec.js'
import { defaultBridgeName } from '../names.js'
import { hostIpv4Of, hostIpv6Of } from './spec-parts.js'

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

/** The host address, a DHCP range and reservations (with `ipv4.address` given). */
export function checkIpv4(ipv4: { address?: string | undefined; dhcp?: Dhcp4Spec | undefined } | undefined, bad: IssueSink): void {
  const address = ipv4?.address
  const dhcp = ipv4?.dhcp
  if (!address) {
    if (dhcp) bad('ipv4.dhcp', 'DHCP needs a host address on the bridge (ipv4.address)')
    return
  }
  const sub = subnet4(address)
  if (sub.host === sub.net || sub.host === sub.bcast) bad('ipv4.address', 'is the network or broadcast address of its subnet')
  if (!dhcp) return
  const [a, b] = dhcp.range
  checkInside(sub, 'ipv4.dhcp.range[0]', a, bad)
  checkInside(sub, 'ipv4.dhcp.range[1]', b, bad)
  if (v4num(a) > v4num(b)) bad('ipv4.dhcp.range', 'first address is after the last')
  else if (v4num(a) <= v4num(sub.host) && v4num(sub.host) <= v4num(b)) bad('ipv4.dhcp.range', `includes the host's own address ${sub.host}`)
  const seen = { mac: new Map<string, number>(), ip: new Map<string, number>(), name: new Map<string, number>() }
  dhcp.hosts?.forEach((h, i) => {
    checkInside(sub, `ipv4.dhcp.hosts[${i}].ip`, h.ip, bad)
    for (const k of ['mac', 'ip', 'name'] as const) {
      const v = h[k]?.toLowerCase()
      if (v === undefined) continue
      const prev = seen[k].get(v)
      if (prev !== undefined) bad(`ipv4.dhcp.hosts[${i}].${k}`, `duplicates ipv4.dhcp.hosts[${prev}].${k}`)
      else seen[k].set(v, i)
    }
  })
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
export function checkForwards(forwards: readonly ForwardSpec[] | undefined, address: string, address6: string | undefined, bad: IssueSink): void {
  if (!forwards) return
  const sub = subnet4(address)
  const seen: { proto: string; v6: boolean; lo: number; hi: number; hostAddress: string | undefined; i: number }[] = []
  forwards.forEach((f, i) => {
    const v6 = f.guest.includes(':')
    if (!v6) checkInside(sub, `forwards[${i}].guest`, f.guest, bad)
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
    const service = capturedService(f, [sub.host, ...(address6 !== undefined ? [address6.split('/')[0] ?? ''] : [])])
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
  ipv6: { address: string; dhcp?: Dhcp6Spec | undefined } | undefined,
  ipv4: { address?: string | undefined; dhcp?: unknown } | undefined,
  dns: unknown,
  bad: IssueSink,
): void {
  if (!ipv6) return
  const runsDnsmasq = ipv4?.address !== undefined && (ipv4.dhcp !== undefined || dns !== undefined || ipv6.dhcp !== undefined)
  const len = Number(ipv6.address.split('/')[1])
  if (runsDnsmasq && len !== 64) bad('ipv6.address', `guests get IPv6 addresses by SLAAC, which needs a /64 prefix, not /${len}`)
  const dhcp = ipv6.dhcp
  if (!dhcp) return
  if (ipv4?.address === undefined) bad('ipv6.dhcp', "DHCPv6 is served by the network's dnsmasq, which needs ipv4.address")
  const [host, plen] = ipaddr.IPv6.parseCIDR(ipv6.address)
  const inside = (field: string, ip: string) => {
    const a = ipaddr.IPv6.parse(ip)
    if (!a.match(host, plen)) bad(field, `${ip} is outside ${ipv6.address}'s prefix`)
    else if (a.toNormalizedString() === host.toNormalizedString()) bad(field, `${ip} is the host's own address`)
  }
  inside('ipv6.dhcp.range[0]', dhcp.range[0])
  inside('ipv6.dhcp.range[1]', dhcp.range[1])
  const big = (ip: string) => BigInt(`0x${ipaddr.IPv6.parse(ip).toByteArray().map((b) => b.toString(16).padStart(2, '0')).join('')}`)
  if (big(dhcp.range[0]) > big(dhcp.range[1])) bad('ipv6.dhcp.range', 'first address is after the last')
  else if (big(dhcp.range[0]) <= big(host.toString()) && big(host.toString()) <= big(dhcp.range[1])) bad('ipv6.dhcp.range', `includes the host's own address ${host.toString()}`)
  const seen = new Map<string, number>()
  dhcp.hosts?.forEach((h, i) => {
    inside(`ipv6.dhcp.hosts[${i}].ip`, h.ip)
    if (!h.id && !h.mac) bad(`ipv6.dhcp.hosts[${i}]`, 'a reservation needs the client id (DUID) or mac')
    const key = ipaddr.IPv6.parse(h.ip).toNormalizedString()
    const prev = seen.get(key)
    if (prev !== undefined) bad(`ipv6.dhcp.hosts[${i}].ip`, `duplicates ipv6.dhcp.hosts[${prev}].ip`)
    else seen.set(key, i)
  })
}

/** DNS is served on the host address: a kind without one cannot serve it. */
export function checkDns(dns: unknown, address: string | undefined, bad: IssueSink): void {
  if (dns !== undefined && !address) bad('dns', 'DNS needs a host address to listen on (ipv4.address)')
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
