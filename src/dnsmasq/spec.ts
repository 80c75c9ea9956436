/**
 * What a network's dnsmasq serves, and the validation that refuses bad input before any file is written.
 * Every value ends up in a dnsmasq config line, so validation is also the injection guard: a newline,
 * comma, '=' or space in a name would let the input add options of its own.
 */
import { ipaddr } from '../util/index.js'
import { SpecError } from '../errors.js'
import { parseIpv4Subnet } from './ipv4.js'
import { isIfName, isNetworkName } from '../util/index.js'
import { Checker, KEYS, STATE_DIR, describe, isObject } from './spec-check.js'
import { checkDhcp, checkDhcp6 } from './spec-dhcp.js'
import { checkDns } from './spec-dns.js'

export { isDnsName } from './spec-check.js'

/** Seconds, or 'infinite'. dnsmasq refuses less than 120 s; a year is the sanity ceiling. */
export type LeaseTime = number | 'infinite'

export interface DhcpReservation {
  /** Ethernet MAC, colon separated. */
  mac: string
  /** Address inside the subnet (may be outside the dynamic range), not the host address. */
  ip: string
  /** Host name handed to the guest and resolvable in dns.domain. */
  name?: string
  leaseTime?: LeaseTime
}

/** A dynamic pool, first and last address inclusive, with its own lease time if given. */
export interface DhcpRange {
  start: string
  end: string
  leaseTime?: LeaseTime
}

export interface DnsmasqDhcpSpec {
  /** First and last address of the dynamic pool, inclusive. Neither range nor ranges: reservations only. */
  range?: [string, string]
  /** Several dynamic pools (instead of range). */
  ranges?: DhcpRange[]
  /** Default 3600. */
  leaseTime?: LeaseTime
  hosts?: DhcpReservation[]
  /** Default route handed out: an address in the subnet, default hostAddress; false sends none. */
  router?: string | false
  /** DHCP option 26 (interface MTU). */
  mtu?: number
  /** DNS server handed out; default hostAddress when DNS is served, else none. */
  dnsServer?: string
}

/** An SRV record: _service._protocol[.domain] -> target:port with priority and weight (libvirt's meaning). */
export interface DnsSrvRecord {
  service: string
  protocol: 'tcp' | 'udp'
  domain?: string
  target?: string
  port?: number
  priority?: number
  weight?: number
}

/** An upstream server ('IP' or 'IP#port'), or one for a domain only ({ domain } alone: the ordinary upstreams). */
export type DnsForwarder = string | { address?: string; domain?: string }

export interface DnsmasqDnsSpec {
  /** Local domain: guests' names and dns.hosts resolve under it. */
  domain?: string
  /** Names under domain are answered locally only, never forwarded (default true). */
  localOnly?: boolean
  /** Extra records (A or AAAA), re-read on reload without a restart. */
  hosts?: Array<{ name: string; ip: string }>
  srv?: DnsSrvRecord[]
  txt?: Array<{ name: string; value: string }>
  /** Upstream servers; given (even empty), only these: [] means only local names resolve. */
  forwarders?: DnsForwarder[]
  /**
   * Without `forwarders`: the resolv.conf whose nameservers are the upstream servers (dnsmasq's
   * resolv-file, re-read when it changes). Neither: only local names resolve.
   */
  resolvFile?: string
}

export interface DnsmasqSpec {
  /** Network name, [A-Za-z0-9_-]{1,32}. */
  network: string
  /** The bridge dnsmasq serves (the only interface it listens on). */
  interface: string
  /** IPv4 CIDR of the network, e.g. '192.168.100.0/24'; absent on an IPv6-only network. */
  subnet?: string
  /** The bridge's IPv4 address (with subnet). */
  hostAddress?: string
  /** More IPv4 subnets on the same interface, each with its own DHCP (router and DNS: its host address). */
  extra?: DnsmasqExtraSubnet[]
  /** Omitted: no DHCP. */
  dhcp?: DnsmasqDhcpSpec
  /** false: DHCP only (port=0). Omitted: DNS with defaults. */
  dns?: false | DnsmasqDnsSpec
  /** Directory for config, lease, pid and log files; default /run/kvmnet/<namespace>/<network>/dnsmasq. */
  stateDir?: string
  /**
   * IPv6 on the interface: router advertisements for its /64 prefix (SLAAC, with stateless DHCPv6 for
   * DNS information), RDNSS/DNSSL for this dnsmasq, DNS answered on the IPv6 address too.
   */
  ipv6?: DnsmasqIpv6Spec
}

export interface DnsmasqExtraSubnet {
  subnet: string
  hostAddress: string
  dhcp?: { range?: [string, string]; ranges?: DhcpRange[]; leaseTime?: LeaseTime; hosts?: DhcpReservation[] }
}

/** Stateful DHCPv6: ranges (none: reservations only) and reservations by DUID or MAC. */
export interface DnsmasqDhcp6Spec {
  range?: [string, string]
  ranges?: DhcpRange[]
  leaseTime?: LeaseTime
  hosts?: Array<{ id?: string; mac?: string; ip: string; name?: string; leaseTime?: LeaseTime }>
}

export interface DnsmasqIpv6Spec {
  /** The interface's IPv6 address (dnsmasq listens on it). */
  hostAddress: string
  /** The /64 prefix advertised, e.g. 'fd00:150::/64'. */
  prefix: string
  /** Advertise the host as default router (false: router lifetime 0, on networks that lead nowhere). */
  router: boolean
  /** MTU option in the advertisements. */
  mtu?: number
  /** Stateful DHCPv6 from these ranges (guests keep SLAAC too), with reservations by DUID or MAC. */
  dhcp?: DnsmasqDhcp6Spec
  /** More prefixes on the interface, each advertised, with its own DHCPv6. */
  extra?: Array<{ hostAddress: string; prefix: string; dhcp?: DnsmasqDhcp6Spec }>
}


/**
 * Throws a SpecError naming the first bad field (all of them in `issues`) unless `spec` is a valid
 * DnsmasqSpec. Pure: touches nothing.
 */
export function validateDnsmasqSpec(spec: unknown): asserts spec is DnsmasqSpec {
  const c = new Checker()
  check(c, spec)
  const first = c.issues[0]
  if (first) throw new SpecError(first.field, first.reason, c.issues)
}

function check(c: Checker, spec: unknown): void {
  if (!isObject(spec)) return c.bad('', 'must be an object')
  c.keys(spec, KEYS.spec, '')
  if (typeof spec.network !== 'string' || !isNetworkName(spec.network)) {
    c.bad('network', `must be 1-32 letters, digits, '_' or '-', got ${describe(spec.network)}`)
  }
  if (typeof spec.interface !== 'string' || !isIfName(spec.interface)) {
    c.bad('interface', `must be an interface name of 1-15 letters, digits, '_', '.' or '-', got ${describe(spec.interface)}`)
  }
  if (spec.stateDir !== undefined && (typeof spec.stateDir !== 'string' || !STATE_DIR.test(spec.stateDir) || spec.stateDir.split('/').includes('..'))) {
    c.bad('stateDir', `must be an absolute path of letters, digits and ._/+- without '..', got ${describe(spec.stateDir)}`)
  }
  // IPv4 is optional: an IPv6-only network's dnsmasq serves router advertisements, DHCPv6 and DNS on IPv6.
  if (spec.subnet === undefined && spec.hostAddress === undefined) {
    if (spec.ipv6 === undefined) c.bad('subnet', 'needs an IPv4 subnet, ipv6, or both')
    if (spec.dhcp !== undefined) c.bad('dhcp', 'DHCP needs subnet and hostAddress')
    if (spec.extra !== undefined) c.bad('extra', 'more subnets need the first one (subnet)')
  } else {
    const parsed = parseIpv4Subnet(spec.subnet)
    const subnet = 'error' in parsed ? undefined : parsed
    if ('error' in parsed) c.bad('subnet', parsed.error)
    const host = c.hostAddr(spec.hostAddress, 'hostAddress', subnet)
    if (spec.dhcp !== undefined) checkDhcp(c, spec.dhcp, subnet, host, 'dhcp', KEYS.dhcp)
    if (spec.extra !== undefined) checkExtra(c, spec.extra)
  }
  if (spec.ipv6 !== undefined) checkIpv6(c, spec.ipv6)
  if (spec.dns !== undefined && spec.dns !== false) checkDns(c, spec.dns)
}

function checkExtra(c: Checker, extra: unknown): void {
  if (!Array.isArray(extra)) return c.bad('extra', 'must be an array')
  extra.forEach((e: unknown, i: number) => {
    const at = `extra[${i}]`
    if (!isObject(e)) return c.bad(at, 'must be an object')
    c.keys(e, KEYS.extra, at)
    const parsed = parseIpv4Subnet(e.subnet)
    const subnet = 'error' in parsed ? undefined : parsed
    if ('error' in parsed) c.bad(`${at}.subnet`, parsed.error)
    const host = c.hostAddr(e.hostAddress, `${at}.hostAddress`, subnet)
    if (e.dhcp !== undefined) checkDhcp(c, e.dhcp, subnet, host, `${at}.dhcp`, KEYS.extraDhcp)
  })
}

function checkPrefix(c: Checker, v6: Record<string, unknown>, at: string): [ipaddr.IPv6, number] | undefined {
  const host = typeof v6.hostAddress === 'string' && ipaddr.IPv6.isValid(v6.hostAddress) && !v6.hostAddress.includes('%')
  if (!host) c.bad(`${at}.hostAddress`, `must be an IPv6 address, got ${describe(v6.hostAddress)}`)
  const prefix = typeof v6.prefix === 'string' && ipaddr.IPv6.isValidCIDR(v6.prefix) ? ipaddr.IPv6.parseCIDR(v6.prefix) : undefined
  if (!prefix) c.bad(`${at}.prefix`, `must be an IPv6 prefix like fd00:1::/64, got ${describe(v6.prefix)}`)
  // SLAAC makes interface identifiers of 64 bits: any other prefix length gives guests no address.
  else if (prefix[1] !== 64) c.bad(`${at}.prefix`, `router advertisements for SLAAC need a /64 prefix, not /${prefix[1]}`)
  else if (host && !ipaddr.IPv6.parse(String(v6.hostAddress)).match(prefix)) c.bad(`${at}.hostAddress`, `${v6.hostAddress} is outside ${v6.prefix}`)
  if (v6.dhcp !== undefined) checkDhcp6(c, v6.dhcp, prefix, `${at}.dhcp`)
  return prefix
}

function checkIpv6(c: Checker, v6: unknown): void {
  if (!isObject(v6)) return c.bad('ipv6', 'must be an object')
  c.keys(v6, KEYS.ipv6, 'ipv6')
  checkPrefix(c, v6, 'ipv6')
  if (typeof v6.router !== 'boolean') c.bad('ipv6.router', 'must be true or false')
  if (v6.mtu !== undefined && (typeof v6.mtu !== 'number' || !Number.isInteger(v6.mtu) || v6.mtu < 1280 || v6.mtu > 65535)) {
    c.bad('ipv6.mtu', `must be an integer from 1280 to 65535, got ${describe(v6.mtu)}`)
  }
  if (v6.extra === undefined) return
  if (!Array.isArray(v6.extra)) return c.bad('ipv6.extra', 'must be an array')
  v6.extra.forEach((e: unknown, i: number) => {
    const at = `ipv6.extra[${i}]`
    if (!isObject(e)) return c.bad(at, 'must be an object')
    c.keys(e, KEYS.ipv6Extra, at)
    checkPrefix(c, e, at)
  })
}
