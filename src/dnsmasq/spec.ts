/**
 * What a network's dnsmasq serves, and the validation that refuses bad input before any file is written.
 * Every value ends up in a dnsmasq config line, so validation is also the injection guard: a newline,
 * comma, '=' or space in a name would let the input add options of its own.
 */
import { ipaddr } from '../util/index.js'
import { SpecError } from '../errors.js'
import { isHostOf, parseIpv4, parseIpv4Subnet, type Ipv4Subnet } from './ipv4.js'
import { DUID_PATTERN, isIfName, isMac, isNetworkName } from '../util/index.js'

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

export interface DnsmasqDhcpSpec {
  /** First and last address of the dynamic pool, inclusive. */
  range: [string, string]
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

export interface DnsmasqDnsSpec {
  /** Local domain: guests' names and dns.hosts resolve under it, and it is never forwarded. */
  domain?: string
  /** Extra records (A or AAAA), re-read on reload without a restart. */
  hosts?: Array<{ name: string; ip: string }>
  /** Upstream servers ('IP' or 'IP#port'); given (even empty), only these: [] means only local names resolve. */
  forwarders?: string[]
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
  /** IPv4 CIDR of the network, e.g. '192.168.100.0/24'. */
  subnet: string
  /** The bridge's IPv4 address. */
  hostAddress: string
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

export interface DnsmasqIpv6Spec {
  /** The interface's IPv6 address (dnsmasq listens on it). */
  hostAddress: string
  /** The /64 prefix advertised, e.g. 'fd00:150::/64'. */
  prefix: string
  /** Advertise the host as default router (false: router lifetime 0, on networks that lead nowhere). */
  router: boolean
  /** MTU option in the advertisements. */
  mtu?: number
  /** Stateful DHCPv6 from this range (guests keep SLAAC too), with reservations by DUID or MAC. */
  dhcp?: { range: [string, string]; leaseTime?: LeaseTime; hosts?: Array<{ id?: string; mac?: string; ip: string; name?: string }> }
}

interface Issue {
  field: string
  reason: string
}

const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const DNS_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`)
const STATE_DIR = /^\/[A-Za-z0-9._/+-]*$/
const MIN_LEASE = 120
const MAX_LEASE = 365 * 24 * 3600

const KEYS = {
  spec: ['network', 'interface', 'subnet', 'hostAddress', 'dhcp', 'dns', 'stateDir', 'ipv6'],
  ipv6: ['hostAddress', 'prefix', 'router', 'mtu', 'dhcp'],
  dhcp6: ['range', 'leaseTime', 'hosts'],
  host6: ['id', 'mac', 'ip', 'name'],
  dhcp: ['range', 'leaseTime', 'hosts', 'router', 'mtu', 'dnsServer'],
  host: ['mac', 'ip', 'name', 'leaseTime'],
  dns: ['domain', 'hosts', 'forwarders', 'resolvFile'],
  dnsHost: ['name', 'ip'],
} as const

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/** A DNS name: labels of letters, digits and inner hyphens, at most 253 characters. */
export function isDnsName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 253 && DNS_NAME.test(s)
}

class Checker {
  readonly issues: Issue[] = []

  bad(field: string, reason: string): void {
    this.issues.push({ field, reason })
  }

  keys(obj: Record<string, unknown>, allowed: readonly string[], at: string): void {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) this.bad(at ? `${at}.${k}` : k, 'unknown field')
  }

  leaseTime(v: unknown, field: string): void {
    if (v === undefined || v === 'infinite') return
    if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_LEASE || v > MAX_LEASE) {
      this.bad(field, `must be 'infinite' or whole seconds from ${MIN_LEASE} to ${MAX_LEASE}, got ${describe(v)}`)
    }
  }

  /** A usable host address of the subnet, or records why not. */
  hostAddr(v: unknown, field: string, subnet: Ipv4Subnet | undefined): number | undefined {
    const n = parseIpv4(v)
    if (n === undefined) {
      this.bad(field, `must be an IPv4 address in dotted-quad form, got ${describe(v)}`)
      return undefined
    }
    if (subnet && !isHostOf(subnet, n)) {
      this.bad(field, `${v} is not a host address of the subnet`)
      return undefined
    }
    return n
  }
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
  const parsed = parseIpv4Subnet(spec.subnet)
  const subnet = 'error' in parsed ? undefined : parsed
  if ('error' in parsed) c.bad('subnet', parsed.error)
  const host = c.hostAddr(spec.hostAddress, 'hostAddress', subnet)
  if (spec.stateDir !== undefined && (typeof spec.stateDir !== 'string' || !STATE_DIR.test(spec.stateDir) || spec.stateDir.split('/').includes('..'))) {
    c.bad('stateDir', `must be an absolute path of letters, digits and ._/+- without '..', got ${describe(spec.stateDir)}`)
  }
  if (spec.dhcp !== undefined) checkDhcp(c, spec.dhcp, subnet, host)
  if (spec.ipv6 !== undefined) checkIpv6(c, spec.ipv6)
  if (spec.dns !== undefined && spec.dns !== false) checkDns(c, spec.dns)
}

function checkIpv6(c: Checker, v6: unknown): void {
  if (!isObject(v6)) return c.bad('ipv6', 'must be an object')
  c.keys(v6, KEYS.ipv6, 'ipv6')
  const host = typeof v6.hostAddress === 'string' && ipaddr.IPv6.isValid(v6.hostAddress) && !v6.hostAddress.includes('%')
  if (!host) c.bad('ipv6.hostAddress', `must be an IPv6 address, got ${describe(v6.hostAddress)}`)
  const prefix = typeof v6.prefix === 'string' && ipaddr.IPv6.isValidCIDR(v6.prefix) ? ipaddr.IPv6.parseCIDR(v6.prefix) : undefined
  if (!prefix) c.bad('ipv6.prefix', `must be an IPv6 prefix like fd00:1::/64, got ${describe(v6.prefix)}`)
  // SLAAC makes interface identifiers of 64 bits: any other prefix length gives guests no address.
  else if (prefix[1] !== 64) c.bad('ipv6.prefix', `router advertisements for SLAAC need a /64 prefix, not /${prefix[1]}`)
  else if (host && !ipaddr.IPv6.parse(String(v6.hostAddress)).match(prefix)) c.bad('ipv6.hostAddress', `${v6.hostAddress} is outside ${v6.prefix}`)
  if (typeof v6.router !== 'boolean') c.bad('ipv6.router', 'must be true or false')
  if (v6.dhcp !== undefined) checkDhcp6(c, v6.dhcp, prefix)
  if (v6.mtu !== undefined && (typeof v6.mtu !== 'number' || !Number.isInteger(v6.mtu) || v6.mtu < 1280 || v6.mtu > 65535)) {
    c.bad('ipv6.mtu', `must be an integer from 1280 to 65535, got ${describe(v6.mtu)}`)
  }
}

function checkDhcp6(c: Checker, dhcp: unknown, prefix: [ipaddr.IPv6, number] | undefined): void {
  if (!isObject(dhcp)) return c.bad('ipv6.dhcp', 'must be an object')
  c.keys(dhcp, KEYS.dhcp6, 'ipv6.dhcp')
  const addr = (v: unknown, field: string) => {
    if (typeof v !== 'string' || !ipaddr.IPv6.isValid(v) || v.includes('%')) return c.bad(field, `must be an IPv6 address, got ${describe(v)}`)
    if (prefix && !ipaddr.IPv6.parse(v).match(prefix)) c.bad(field, `${v} is outside the prefix`)
  }
  if (!Array.isArray(dhcp.range) || dhcp.range.length !== 2) c.bad('ipv6.dhcp.range', 'must be [first, last]')
  else dhcp.range.forEach((v: unknown, i: number) => addr(v, `ipv6.dhcp.range[${i}]`))
  c.leaseTime(dhcp.leaseTime, 'ipv6.dhcp.leaseTime')
  if (dhcp.hosts === undefined) return
  if (!Array.isArray(dhcp.hosts)) return c.bad('ipv6.dhcp.hosts', 'must be an array')
  dhcp.hosts.forEach((h: unknown, i: number) => {
    const at = `ipv6.dhcp.hosts[${i}]`
    if (!isObject(h)) return c.bad(at, 'must be an object')
    c.keys(h, KEYS.host6, at)
    addr(h.ip, `${at}.ip`)
    if (h.id !== undefined && (typeof h.id !== 'string' || !DUID_PATTERN.test(h.id))) c.bad(`${at}.id`, `must be a DUID in hex, got ${describe(h.id)}`)
    if (h.mac !== undefined && (typeof h.mac !== 'string' || !isMac(h.mac))) c.bad(`${at}.mac`, `must be a MAC, got ${describe(h.mac)}`)
    if (h.id === undefined && h.mac === undefined) c.bad(at, 'needs id or mac')
    if (h.name !== undefined && !isDnsName(h.name)) c.bad(`${at}.name`, `must be a DNS name, got ${describe(h.name)}`)
  })
}

function checkDhcp(c: Checker, dhcp: unknown, subnet: Ipv4Subnet | undefined, host: number | undefined): void {
  if (!isObject(dhcp)) return c.bad('dhcp', 'must be an object')
  c.keys(dhcp, KEYS.dhcp, 'dhcp')
  if (!Array.isArray(dhcp.range) || dhcp.range.length !== 2) {
    c.bad('dhcp.range', 'must be [first, last]')
  } else {
    const first = c.hostAddr(dhcp.range[0], 'dhcp.range[0]', subnet)
    const last = c.hostAddr(dhcp.range[1], 'dhcp.range[1]', subnet)
    if (first !== undefined && last !== undefined) {
      if (first > last) c.bad('dhcp.range', `${dhcp.range[0]} comes after ${dhcp.range[1]}`)
      else if (host !== undefined && host >= first && host <= last) c.bad('dhcp.range', 'includes the host address')
    }
  }
  c.leaseTime(dhcp.leaseTime, 'dhcp.leaseTime')
  if (dhcp.router !== undefined && dhcp.router !== false) c.hostAddr(dhcp.router, 'dhcp.router', subnet)
  if (dhcp.mtu !== undefined && (typeof dhcp.mtu !== 'number' || !Number.isInteger(dhcp.mtu) || dhcp.mtu < 68 || dhcp.mtu > 65535)) {
    c.bad('dhcp.mtu', `must be an integer from 68 to 65535, got ${describe(dhcp.mtu)}`)
  }
  if (dhcp.dnsServer !== undefined) c.hostAddr(dhcp.dnsServer, 'dhcp.dnsServer', undefined)
  if (dhcp.hosts === undefined) return
  if (!Array.isArray(dhcp.hosts)) return c.bad('dhcp.hosts', 'must be an array')
  const macs = new Map<string, number>()
  const ips = new Map<number, number>()
  const names = new Map<string, number>()
  dhcp.hosts.forEach((h: unknown, i: number) => {
    const at = `dhcp.hosts[${i}]`
    if (!isObject(h)) return c.bad(at, 'must be an object')
    c.keys(h, KEYS.host, at)
    if (typeof h.mac !== 'string' || !isMac(h.mac)) {
      c.bad(`${at}.mac`, `must be a MAC like 52:54:00:12:34:56, got ${describe(h.mac)}`)
    } else if (parseInt(h.mac.slice(0, 2), 16) & 1) {
      c.bad(`${at}.mac`, `${h.mac} is a multicast address`)
    } else if (/^(00:){5}00$/.test(h.mac)) {
      c.bad(`${at}.mac`, 'the all-zero MAC is not a NIC address')
    } else {
      const key = h.mac.toLowerCase()
      const prev = macs.get(key)
      if (prev !== undefined) c.bad(`${at}.mac`, `${h.mac} is already reserved by dhcp.hosts[${prev}]`)
      else macs.set(key, i)
    }
    const ip = c.hostAddr(h.ip, `${at}.ip`, subnet)
    if (ip !== undefined) {
      const prev = ips.get(ip)
      if (ip === host) c.bad(`${at}.ip`, 'is the host address')
      else if (prev !== undefined) c.bad(`${at}.ip`, `${h.ip} is already reserved by dhcp.hosts[${prev}]`)
      else ips.set(ip, i)
    }
    if (h.name !== undefined) {
      if (!isDnsName(h.name)) c.bad(`${at}.name`, `must be a host name (letters, digits, inner hyphens, dots), got ${describe(h.name)}`)
      else {
        const key = h.name.toLowerCase()
        const prev = names.get(key)
        if (prev !== undefined) c.bad(`${at}.name`, `${h.name} is already used by dhcp.hosts[${prev}]`)
        else names.set(key, i)
      }
    }
    c.leaseTime(h.leaseTime, `${at}.leaseTime`)
  })
}

function checkDns(c: Checker, dns: unknown): void {
  if (!isObject(dns)) return c.bad('dns', 'must be an object or false')
  c.keys(dns, KEYS.dns, 'dns')
  if (dns.domain !== undefined && !isDnsName(dns.domain)) {
    c.bad('dns.domain', `must be a domain name like lab.example, got ${describe(dns.domain)}`)
  }
  if (dns.hosts !== undefined) {
    if (!Array.isArray(dns.hosts)) c.bad('dns.hosts', 'must be an array')
    else {
      const seen = new Map<string, number>()
      dns.hosts.forEach((h: unknown, i: number) => {
        const at = `dns.hosts[${i}]`
        if (!isObject(h)) return c.bad(at, 'must be an object')
        c.keys(h, KEYS.dnsHost, at)
        if (!isDnsName(h.name)) c.bad(`${at}.name`, `must be a host name, got ${describe(h.name)}`)
        if (!isIpAddress(h.ip)) c.bad(`${at}.ip`, `must be an IPv4 or IPv6 address, got ${describe(h.ip)}`)
        else if (typeof h.name === 'string') {
          const key = `${h.name.toLowerCase()} ${h.ip}`
          const prev = seen.get(key)
          if (prev !== undefined) c.bad(at, `duplicates dns.hosts[${prev}]`)
          else seen.set(key, i)
        }
      })
    }
  }
  if (dns.resolvFile !== undefined && (typeof dns.resolvFile !== 'string' || !STATE_DIR.test(dns.resolvFile) || dns.resolvFile.split('/').includes('..'))) {
    c.bad('dns.resolvFile', `must be an absolute path of letters, digits and ._/+- without '..', got ${describe(dns.resolvFile)}`)
  }
  if (dns.forwarders !== undefined) {
    if (!Array.isArray(dns.forwarders)) c.bad('dns.forwarders', 'must be an array')
    else dns.forwarders.forEach((f: unknown, i: number) => {
      if (!isForwarder(f)) c.bad(`dns.forwarders[${i}]`, `must be an IP address, optionally with #port, got ${describe(f)}`)
    })
  }
}

function isIpAddress(v: unknown): v is string {
  if (typeof v !== 'string') return false
  if (parseIpv4(v) !== undefined) return true
  // A zone index (%eth0) would name an interface of the namespace: not meaningful in a hosts file.
  return !v.includes('%') && !v.includes('.') && ipaddr.IPv6.isValid(v)
}

function isForwarder(v: unknown): v is string {
  if (typeof v !== 'string') return false
  const [addr, port, ...rest] = v.split('#')
  if (rest.length > 0 || !isIpAddress(addr)) return false
  return port === undefined || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)
}
