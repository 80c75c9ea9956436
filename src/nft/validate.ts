/**
 * Checks NetworkRules completely before anything runs, and turns them into a form the renderer can use
 * without re-checking: addresses parsed and canonical, subnets as network/prefix, port ranges resolved.
 * Every problem is reported at once (SpecError.issues), the first one as SpecError.field.
 */
import { ipaddr } from '../util/index.js'
import { SpecError } from '../errors.js'
import type { HostServices, NetworkRules, PortFilter, PortForward } from './model.js'
import { TAG_PATTERN } from './names.js'
import { IFNAME_RULE, isIfName, isMac } from '../util/index.js'

export type IpFamily = 'ip' | 'ip6'

export interface CheckedSubnet {
  family: IpFamily
  /** Network address, canonical text. */
  addr: string
  len: number
  hostAddress?: string | undefined
  /** Whether traffic from this subnet is masqueraded (IPv4 in nat mode, IPv6 with nat66). */
  masquerade: boolean
}

export interface CheckedForward {
  proto: 'tcp' | 'udp'
  family: IpFamily
  first: number
  last: number
  guest: string
  guestFirst: number
  hostAddress?: string | undefined
  inInterface?: string | undefined
}

export interface CheckedRules {
  tag: string
  bridge: string
  mode: 'nat' | 'routed' | 'isolated'
  v4?: CheckedSubnet | undefined
  v6?: CheckedSubnet | undefined
  /** Further subnets of either family on the bridge, forwarded and masqueraded like the first of theirs. */
  extra: CheckedSubnet[]
  uplink?: string | undefined
  snat?: string | undefined
  snat6?: string | undefined
  forwards: CheckedForward[]
  hostServices: HostServices
  portFilters: PortFilter[]
}

type Issue = { field: string; reason: string }

/** Validate and normalize; throws SpecError naming the offending field(s). */
export function checkRules(rules: NetworkRules): CheckedRules {
  const issues: Issue[] = []
  const fail = (field: string, reason: string): undefined => {
    issues.push({ field, reason })
    return undefined
  }
  if (typeof rules !== 'object' || rules === null) throw new SpecError('', 'rules must be an object')

  if (typeof rules.tag !== 'string' || !TAG_PATTERN.test(rules.tag)) fail('tag', 'must match [A-Za-z0-9_-]{1,32}')
  checkIfname(rules.bridge, 'bridge', fail)
  if (rules.mode !== 'nat' && rules.mode !== 'routed' && rules.mode !== 'isolated') fail('mode', "must be 'nat', 'routed' or 'isolated'")
  const nat = rules.mode === 'nat'

  const v4 = rules.ipv4 ? checkSubnet(rules.ipv4.subnet, rules.ipv4.hostAddress, 'ipv4', 'ip', nat, fail) : undefined
  const v6 = rules.ipv6
    ? checkSubnet(rules.ipv6.subnet, rules.ipv6.hostAddress, 'ipv6', 'ip6', nat && rules.ipv6.nat66 === true, fail)
    : undefined
  if (rules.ipv6?.nat66 && !nat) fail('ipv6.nat66', "NAT66 needs mode 'nat'")
  const extra: CheckedSubnet[] = []
  ;(rules.extraSubnets ?? []).forEach((cidr, i) => {
    const a = parseIp(typeof cidr === 'string' ? cidr.split('/')[0] : undefined)
    const v6x = a?.kind() === 'ipv6'
    const masq = nat && (v6x ? rules.ipv6?.nat66 === true : true)
    const c = checkSubnet(cidr, undefined, v6x ? 'ipv6' : 'ipv4', v6x ? 'ip6' : 'ip', masq, (f, r) => fail(`extraSubnets[${i}]`, `${f}: ${r}`))
    if (c) extra.push(c)
  })
  let snat6: string | undefined
  if (rules.ipv6?.snat !== undefined) {
    const a = parseIp(rules.ipv6.snat)
    if (!a || a.kind() !== 'ipv6') fail('ipv6.snat', 'must be an IPv6 address')
    else if (!rules.ipv6.nat66) fail('ipv6.snat', 'SNAT66 needs nat66')
    else snat6 = a.toString()
  }

  let uplink: string | undefined
  let snat: string | undefined
  if (rules.nat) {
    if (!nat) fail('nat', "only valid in mode 'nat'")
    if (rules.nat.uplink !== undefined) uplink = checkIfname(rules.nat.uplink, 'nat.uplink', fail)
    if (rules.nat.snat !== undefined) {
      const a = parseIp(rules.nat.snat)
      if (!a) fail('nat.snat', `not an IP address: ${String(rules.nat.snat)}`)
      else if (a.kind() !== 'ipv4') fail('nat.snat', 'must be an IPv4 address')
      else if (!v4) fail('nat.snat', 'SNAT needs an ipv4 subnet')
      else snat = a.toString()
    }
  }

  if (rules.routed) {
    if (rules.mode !== 'routed') fail('routed', "only valid in mode 'routed'")
    else if (rules.routed.uplink !== undefined) uplink = checkIfname(rules.routed.uplink, 'routed.uplink', fail)
  }

  const forwards: CheckedForward[] = []
  const list = rules.forwards ?? []
  if (!Array.isArray(list)) fail('forwards', 'must be an array')
  else {
    if (list.length > 0 && !nat) fail('forwards', "port forwards need mode 'nat'")
    list.forEach((f, i) => {
      const c = checkForward(f, `forwards[${i}]`, { v4, v6 }, fail)
      if (!c) return
      const clash = forwards.findIndex((o) => overlaps(o, c))
      if (clash >= 0) fail(`forwards[${i}].hostPort`, `overlaps forwards[${clash}] (same protocol, address and interface)`)
      forwards.push(c)
    })
  }

  const hostServices = rules.hostServices ?? 'all'
  if (typeof hostServices === 'string') {
    if (hostServices !== 'all' && hostServices !== 'dhcp-dns') fail('hostServices', "must be 'all', 'dhcp-dns' or a list of { proto, port }")
  } else if (!Array.isArray(hostServices)) fail('hostServices', "must be 'all', 'dhcp-dns' or a list of { proto, port }")
  else {
    hostServices.forEach((s, i) => {
      if (s.proto !== 'tcp' && s.proto !== 'udp') fail(`hostServices[${i}].proto`, "must be 'tcp' or 'udp'")
      if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) fail(`hostServices[${i}].port`, 'must be 1-65535')
    })
  }

  const portFilters: PortFilter[] = []
  ;(rules.portFilters ?? []).forEach((f, i) => {
    const port = checkIfname(f.port, `portFilters[${i}].port`, fail)
    if (!isMac(f.mac)) fail(`portFilters[${i}].mac`, 'must be a MAC address')
    const ips = [...(f.ipv4 !== undefined ? [f.ipv4] : []), ...f.othersIpv4]
    if (ips.some((ip) => parseIp(ip)?.kind() !== 'ipv4')) fail(`portFilters[${i}]`, 'addresses must be IPv4')
    if (port) portFilters.push({ port, mac: f.mac.toLowerCase(), ipv4: f.ipv4, othersIpv4: [...f.othersIpv4] })
  })

  const first = issues[0]
  if (first) throw new SpecError(first.field, first.reason, issues)
  return { tag: rules.tag, bridge: rules.bridge, mode: rules.mode, v4, v6, extra, uplink, snat, snat6, forwards, hostServices, portFilters }
}

/** Strict parse: dotted-quad IPv4 only (no '127.1' or octal forms), IPv6 without zone. */
function parseIp(s: unknown): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (typeof s !== 'string') return undefined
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return ipaddr.IPv4.parse(s)
  if (!s.includes('%') && s.includes(':') && ipaddr.IPv6.isValid(s)) return ipaddr.IPv6.parse(s)
  return undefined
}

function familyOf(a: ipaddr.IPv4 | ipaddr.IPv6): IpFamily {
  return a.kind() === 'ipv4' ? 'ip' : 'ip6'
}

function checkIfname(name: unknown, field: string, fail: (f: string, r: string) => undefined): string | undefined {
  // kvmnet's one rule for interface names: what a rule expression carries safely.
  if (typeof name !== 'string' || name.length === 0) return fail(field, 'must be a non-empty interface name')
  if (!isIfName(name)) return fail(field, `invalid interface name: ${name} (${IFNAME_RULE})`)
  return name
}

function checkSubnet(
  subnet: unknown,
  hostAddress: unknown,
  field: 'ipv4' | 'ipv6',
  family: IpFamily,
  masquerade: boolean,
  fail: (f: string, r: string) => undefined,
): CheckedSubnet | undefined {
  if (typeof subnet !== 'string' || !subnet.includes('/')) return fail(`${field}.subnet`, 'must be a CIDR (address/prefix)')
  const [addrText, lenText = ''] = subnet.split('/')
  const addr = parseIp(addrText)
  const len = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN
  if (!addr || Number.isNaN(len)) return fail(`${field}.subnet`, `not a CIDR: ${subnet}`)
  if (familyOf(addr) !== family) return fail(`${field}.subnet`, `not an ${field === 'ipv4' ? 'IPv4' : 'IPv6'} subnet: ${subnet}`)
  // A /31 or /32 (/127, /128) leaves no room for a host and a guest.
  const max = family === 'ip' ? 30 : 126
  if (len < 1 || len > max) return fail(`${field}.subnet`, `prefix length must be 1..${max}: ${subnet}`)
  const cidr = `${addr.toString()}/${len}`
  const net = family === 'ip' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr)
  const out: CheckedSubnet = { family, addr: net.toString(), len, masquerade }
  if (hostAddress !== undefined) {
    const h = parseIp(hostAddress)
    // A bad host address is reported but the subnet is kept, so forwards are not also blamed for it.
    const reason = !h || familyOf(h) !== family ? `not an ${field} address: ${String(hostAddress)}` : notAHost(h, out)
    if (reason) fail(`${field}.hostAddress`, reason)
    else out.hostAddress = h!.toString()
  }
  return out
}

/** Why `a` cannot be a host of `s`, or undefined if it can. */
function notAHost(a: ipaddr.IPv4 | ipaddr.IPv6, s: CheckedSubnet): string | undefined {
  const range: [ipaddr.IPv4 | ipaddr.IPv6, number] = [ipaddr.parse(s.addr), s.len]
  if (familyOf(a) !== s.family || !a.match(range)) return `${a.toString()} is outside ${s.addr}/${s.len}`
  if (a.toString() === s.addr) return `${a.toString()} is the network address of ${s.addr}/${s.len}`
  if (s.family === 'ip' && a.toString() === ipaddr.IPv4.broadcastAddressFromCIDR(`${s.addr}/${s.len}`).toString()) {
    return `${a.toString()} is the broadcast address of ${s.addr}/${s.len}`
  }
  return undefined
}

function isPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535
}

function checkForward(
  f: PortForward,
  at: string,
  subnets: { v4?: CheckedSubnet | undefined; v6?: CheckedSubnet | undefined },
  fail: (f: string, r: string) => undefined,
): CheckedForward | undefined {
  if (typeof f !== 'object' || f === null) return fail(at, 'must be an object')
  const before = { ok: true }
  const bad = (field: string, reason: string): undefined => {
    before.ok = false
    return fail(`${at}.${field}`, reason)
  }
  if (f.proto !== 'tcp' && f.proto !== 'udp') bad('proto', "must be 'tcp' or 'udp'")

  let first = 0
  let last = 0
  if (Array.isArray(f.hostPort)) {
    const [a, b] = f.hostPort as unknown[]
    if (f.hostPort.length !== 2 || !isPort(a) || !isPort(b)) bad('hostPort', 'a range must be [first, last] with ports 1..65535')
    else if (a > b) bad('hostPort', `range start ${a} is after its end ${b}`)
    else [first, last] = [a, b]
  } else if (!isPort(f.hostPort)) bad('hostPort', `must be a port 1..65535 or a [first, last] range, got ${String(f.hostPort)}`)
  else first = last = f.hostPort

  let guestFirst = first
  if (f.guestPort !== undefined) {
    if (!isPort(f.guestPort)) bad('guestPort', `must be a port 1..65535, got ${String(f.guestPort)}`)
    else if (first > 0 && f.guestPort + (last - first) > 65535) {
      bad('guestPort', `guest range ${f.guestPort}-${f.guestPort + (last - first)} (same length as hostPort) passes 65535`)
    } else guestFirst = f.guestPort
  }

  let family: IpFamily = 'ip'
  let guest = ''
  const g = parseIp(f.guest)
  if (!g) bad('guest', `not an IP address: ${String(f.guest)}`)
  else {
    family = familyOf(g)
    const s = family === 'ip' ? subnets.v4 : subnets.v6
    if (!s) bad('guest', `${family === 'ip' ? 'IPv4' : 'IPv6'} guest but the network has no ${family === 'ip' ? 'ipv4' : 'ipv6'} subnet`)
    else {
      const reason = notAHost(g, s) ?? (g.toString() === s.hostAddress ? `${g.toString()} is the host's own address` : undefined)
      if (reason) bad('guest', reason)
    }
    guest = g.toString()
  }

  let hostAddress: string | undefined
  if (f.hostAddress !== undefined) {
    const h = parseIp(f.hostAddress)
    if (!h) bad('hostAddress', `not an IP address: ${String(f.hostAddress)}`)
    else if (g && familyOf(h) !== family) bad('hostAddress', `${h.toString()} is not the same address family as guest ${guest}`)
    else if (family === 'ip6' && h.toString() === '::1') bad('hostAddress', 'IPv6 loopback cannot be forwarded (Linux has no route_localnet for IPv6)')
    else hostAddress = h.toString()
  }
  const inInterface = f.inInterface !== undefined ? checkIfname(f.inInterface, 'inInterface', bad) : undefined

  if (!before.ok) return undefined
  return { proto: f.proto, family, first, last, guest, guestFirst, hostAddress, inInterface }
}

function overlaps(a: CheckedForward, b: CheckedForward): boolean {
  return (
    a.proto === b.proto &&
    a.family === b.family &&
    a.hostAddress === b.hostAddress &&
    a.inInterface === b.inInterface &&
    a.first <= b.last &&
    b.first <= a.last
  )
}
