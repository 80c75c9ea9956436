/**
 * Relational checks of a bridged network's addresses: each subnet (the first of its family and the
 * `extra` ones) with its DHCP — ranges inside the subnet and apart from each other, reservations-only
 * DHCP with reservations, no two subnets overlapping. Each names the field as the user wrote it.
 */
import { ipaddr } from '../../util/index.js'
import type { Dhcp4Spec, Dhcp6Spec, IssueSink } from '../spec.js'

type Ip = ipaddr.IPv4 | ipaddr.IPv6

/** An address as a number, so ranges compare and overlap as plain intervals. */
function big(ip: Ip): bigint {
  return ip.toByteArray().reduce((n, b) => n * 256n + BigInt(b), 0n)
}

interface Subnet {
  cidr: string
  net: bigint
  last: bigint
  host: Ip
  match: (ip: Ip) => boolean
  v4: boolean
}

function subnetOf(cidr: string): Subnet {
  const [host, len] = ipaddr.parseCIDR(cidr)
  const v4 = host.kind() === 'ipv4'
  const bits = v4 ? 32 : 128
  const hostBits = BigInt(bits - len)
  const net = (big(host) >> hostBits) << hostBits
  return { cidr, net, last: net + (1n << hostBits) - 1n, host, v4, match: (ip) => ip.kind() === host.kind() && ip.match(host, len) }
}

/** An address that must be a guest's inside the subnet: not the network, broadcast (IPv4) or host address. */
function checkInside(sub: Subnet, field: string, text: string, bad: IssueSink): void {
  const ip = ipaddr.parse(text)
  const n = big(ip)
  if (!sub.match(ip)) bad(field, `${text} is outside ${sub.cidr}'s subnet`)
  else if (sub.v4 && (n === sub.net || n === sub.last)) bad(field, `${text} is the network or broadcast address`)
  else if (n === big(sub.host)) bad(field, `${text} is the host's own address`)
}

type AnyDhcp = Dhcp4Spec | Dhcp6Spec

/** The ranges as written: `range` or `ranges[]`, with the field each is named by. */
function rangesOf(dhcp: AnyDhcp, at: string): { start: string; end: string; field: string }[] {
  if (dhcp.range) return [{ start: dhcp.range[0], end: dhcp.range[1], field: `${at}.range` }]
  return (dhcp.ranges ?? []).map((r, i) => ({ start: r.start, end: r.end, field: `${at}.ranges[${i}]` }))
}

/** One subnet's DHCP: its ranges, and its reservations (IPv4 by MAC, IPv6 by DUID or MAC). */
function checkDhcp(sub: Subnet, dhcp: AnyDhcp, at: string, bad: IssueSink): void {
  if (dhcp.range && dhcp.ranges) bad(`${at}.ranges`, `give range or ranges, not both`)
  // dnsmasq's own check refuses [] when its config is rendered, after the bridge is made: refused here first.
  if (dhcp.ranges?.length === 0) bad(`${at}.ranges`, 'lists no range: give one, or leave ranges out to serve reservations only')
  const seen: { lo: bigint; hi: bigint; field: string }[] = []
  const pos = (f: string, i: 0 | 1) => (f.endsWith('.range') ? `${f}[${i}]` : `${f}.${i === 0 ? 'start' : 'end'}`)
  for (const r of rangesOf(dhcp, at)) {
    checkInside(sub, pos(r.field, 0), r.start, bad)
    checkInside(sub, pos(r.field, 1), r.end, bad)
    const lo = big(ipaddr.parse(r.start))
    const hi = big(ipaddr.parse(r.end))
    const host = big(sub.host)
    if (lo > hi) bad(r.field, 'first address is after the last')
    else if (lo <= host && host <= hi) bad(r.field, `includes the host's own address ${sub.host.toString()}`)
    const other = seen.find((o) => lo <= o.hi && hi >= o.lo)
    if (other) bad(r.field, `overlaps ${other.field}`)
    seen.push({ lo, hi, field: r.field })
  }
  const hosts: readonly { ip: string; mac?: string | undefined; id?: string | undefined; name?: string | undefined }[] = dhcp.hosts ?? []
  if (!dhcp.range && !dhcp.ranges && hosts.length === 0) {
    bad(`${at}.hosts`, 'DHCP without range or ranges serves reservations only: give hosts, or a range')
  }
  const keys = ['mac', 'ip', 'name', ...(sub.v4 ? [] : ['id'])] as const
  const taken = new Map<string, number>()
  hosts.forEach((h, i) => {
    checkInside(sub, `${at}.hosts[${i}].ip`, h.ip, bad)
    if (!sub.v4 && !h.id && !h.mac) bad(`${at}.hosts[${i}]`, 'a reservation needs the client id (DUID) or mac')
    for (const k of keys) {
      const raw = k === 'id' ? h.id : k === 'mac' ? h.mac : k === 'name' ? h.name : h.ip
      if (raw === undefined) continue
      const v = k === 'ip' ? ipaddr.parse(raw).toString() : raw.toLowerCase()
      const prev = taken.get(`${k} ${v}`)
      if (prev !== undefined) bad(`${at}.hosts[${i}].${k}`, `duplicates ${at}.hosts[${prev}].${k}`)
      else taken.set(`${k} ${v}`, i)
    }
  })
}

/**
 * The subnets of one family — the first (`<family>.address`) and `<family>.extra[i].address` — each
 * with its DHCP; no two may overlap (a guest's address would belong to two of them).
 */
export function checkSubnets(
  family: 'ipv4' | 'ipv6',
  ip: { address?: string | undefined; dhcp?: AnyDhcp | undefined; extra?: readonly { address: string; dhcp?: AnyDhcp | undefined }[] | undefined } | undefined,
  bad: IssueSink,
): void {
  if (!ip) return
  if (ip.address === undefined) {
    if (ip.dhcp) bad(`${family}.dhcp`, `DHCP needs a host address on the bridge (${family}.address)`)
    if (ip.extra?.length) bad(`${family}.extra`, `more subnets need the first one (${family}.address)`)
    return
  }
  const list = [
    { address: ip.address, dhcp: ip.dhcp, at: family },
    ...(ip.extra ?? []).map((e, i) => ({ address: e.address, dhcp: e.dhcp, at: `${family}.extra[${i}]` })),
  ]
  const subs: { sub: Subnet; at: string }[] = []
  for (const e of list) {
    const sub = subnetOf(e.address)
    if (sub.v4 && (big(sub.host) === sub.net || big(sub.host) === sub.last)) bad(`${e.at}.address`, 'is the network or broadcast address of its subnet')
    const other = subs.find((o) => sub.net <= o.sub.last && sub.last >= o.sub.net)
    if (other) bad(`${e.at}.address`, `overlaps ${other.at}.address (${other.sub.cidr})`)
    subs.push({ sub, at: e.at })
    if (e.dhcp) checkDhcp(sub, e.dhcp, `${e.at}.dhcp`, bad)
  }
}

/** The host's addresses of a family as CIDRs: the first, then the extra ones. */
export function addressesOf(ip: { address?: string | undefined; extra?: readonly { address: string }[] | undefined } | undefined): string[] {
  if (ip?.address === undefined) return []
  return [ip.address, ...(ip.extra ?? []).map((e) => e.address)]
}
