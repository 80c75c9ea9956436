/**
 * libvirt's <ip>, <dhcp>, <domain> and <dns> as the spec's ipv4/ipv6 and dns sections. Each <ip> of a
 * family after the first becomes one of that family's `extra` subnets; an address without a prefix or
 * netmask gets libvirt's default (the class of an IPv4 address, /64 for IPv6).
 */
import { ipaddr } from '../util/index.js'
import { LibvirtImportError } from './import-error.js'
import type { XmlElement } from './xml-tree.js'

/** What the importer collects while it reads: the elements it visited (checked for unread parts) and notes. */
export interface ImportContext {
  seen: XmlElement[]
  notes: string[]
}

export function visit(ctx: ImportContext, el: XmlElement): XmlElement {
  ctx.seen.push(el)
  return el
}

type Json = Record<string, unknown>

const LEASE_UNITS: Record<string, number> = { seconds: 1, minutes: 60, hours: 3600 }

/** <lease expiry unit>: libvirt's unit defaults to minutes and expiry 0 means infinite. */
function leaseOf(ctx: ImportContext, parent: XmlElement): number | 'infinite' | undefined {
  const el = parent.one('lease')
  if (!el) return undefined
  visit(ctx, el)
  const expiry = el.attr('expiry')
  const unit = el.attr('unit') ?? 'minutes'
  const factor = LEASE_UNITS[unit]
  if (factor === undefined) throw new LibvirtImportError('<lease>', 'unit', `'${unit}' is not seconds, minutes or hours`)
  if (expiry === undefined || !/^\d+$/.test(expiry)) throw new LibvirtImportError('<lease>', 'expiry', `'${expiry ?? ''}' is not a whole number`)
  const seconds = Number(expiry) * factor
  if (seconds === 0) return 'infinite'
  if (seconds < 120 || seconds > 365 * 24 * 3600) throw new LibvirtImportError('<lease>', 'expiry', `${seconds} s is outside what dnsmasq hands out (120 s to a year, or 0 for infinite)`)
  return seconds
}

/** libvirt writes DUID bytes without leading zeros (0:4:7e:…); kvmnet wants two hex digits each. */
function duid(id: string): string {
  return id
    .split(':')
    .map((b) => b.padStart(2, '0'))
    .join(':')
    .toLowerCase()
}

function prefixOf(ip: XmlElement, family: 'ipv4' | 'ipv6', address: string): number {
  const prefix = ip.attr('prefix')
  const netmask = ip.attr('netmask')
  if (prefix !== undefined && netmask !== undefined) throw new LibvirtImportError('<ip>', 'netmask', 'given together with prefix')
  if (prefix !== undefined) {
    if (!/^\d+$/.test(prefix)) throw new LibvirtImportError('<ip>', 'prefix', `'${prefix}' is not a prefix length`)
    return Number(prefix)
  }
  if (netmask !== undefined) {
    const len = family === 'ipv4' && ipaddr.IPv4.isValidFourPartDecimal(netmask) ? ipaddr.IPv4.parse(netmask).prefixLengthFromSubnetMask() : null
    if (len === null) throw new LibvirtImportError('<ip>', 'netmask', `'${netmask}' is not an IPv4 netmask`)
    return len
  }
  if (family === 'ipv6') return 64
  // libvirt's default for an IPv4 address without a netmask: its class (A /8, B /16, C /24).
  const first = Number(address.split('.')[0])
  return first < 128 ? 8 : first < 192 ? 16 : 24
}

function dhcpOf(ctx: ImportContext, ip: XmlElement, family: 'ipv4' | 'ipv6'): Json | undefined {
  const dhcp = ip.one('dhcp')
  if (!dhcp) return undefined
  visit(ctx, dhcp)
  for (const bootp of dhcp.all('bootp')) throw new LibvirtImportError('<bootp>', bootp.has('server') ? 'server' : 'file', 'network boot (BOOTP/PXE) is not something kvmnet serves')
  const ranges = dhcp.all('range').map((r) => {
    visit(ctx, r)
    const start = r.attr('start')
    const end = r.attr('end')
    if (!start || !end) throw new LibvirtImportError('<range>', start ? 'end' : 'start', 'missing')
    const leaseTime = leaseOf(ctx, r)
    return { start, end, ...(leaseTime !== undefined ? { leaseTime } : {}) }
  })
  const hosts = dhcp.all('host').map((h) => {
    visit(ctx, h)
    const name = h.attr('name')
    const addr = h.attr('ip')
    const leaseTime = leaseOf(ctx, h)
    if (!addr) throw new LibvirtImportError('<host>', 'ip', `a reservation without an address (it only names the guest${name ? ` ${name}` : ''}): kvmnet reservations give an address`)
    if (family === 'ipv4') {
      const mac = h.attr('mac')
      if (!mac) throw new LibvirtImportError('<host>', 'mac', `the IPv4 reservation of ${addr} is by host name only; kvmnet reserves IPv4 addresses by MAC`)
      return { mac: mac.toLowerCase(), ip: addr, ...(name ? { name } : {}), ...(leaseTime !== undefined ? { leaseTime } : {}) }
    }
    const id = h.attr('id')
    if (!id) throw new LibvirtImportError('<host>', 'name', `the DHCPv6 reservation of ${addr} is by host name only (no id); kvmnet reserves DHCPv6 addresses by DUID or MAC`)
    return { id: duid(id), ip: addr, ...(name ? { name } : {}), ...(leaseTime !== undefined ? { leaseTime } : {}) }
  })
  const first = ranges[0]
  const only = ranges.length === 1 && first ? first : undefined
  return {
    ...(only ? { range: [only.start, only.end], ...(only.leaseTime !== undefined ? { leaseTime: only.leaseTime } : {}) } : {}),
    ...(ranges.length > 1 ? { ranges } : {}),
    ...(hosts.length > 0 ? { hosts } : {}),
  }
}

// Parsed on first use: at the top level it would load ipaddr.js with kvmnet itself (util/ipaddr.ts).
const privateV4 = (): [ipaddr.IPv4, number][] => ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((c) => ipaddr.IPv4.parseCIDR(c))

/** The <ip> elements as { ipv4?, ipv6? }, the first of each family with the others as its `extra`. */
export function ipSections(ctx: ImportContext, network: XmlElement, opts: { nat66: boolean }): { ipv4?: Json; ipv6?: Json } {
  const byFamily: Record<'ipv4' | 'ipv6', Json[]> = { ipv4: [], ipv6: [] }
  for (const ip of network.all('ip')) {
    visit(ctx, ip)
    const address = ip.attr('address')
    if (!address) throw new LibvirtImportError('<ip>', 'address', 'missing')
    const declared = ip.attr('family')
    const family = declared === undefined ? (address.includes(':') ? 'ipv6' : 'ipv4') : declared
    if (family !== 'ipv4' && family !== 'ipv6') throw new LibvirtImportError('<ip>', 'family', `'${family}' is not ipv4 or ipv6`)
    for (const tftp of ip.all('tftp')) throw new LibvirtImportError('<tftp>', tftp.has('root') ? 'root' : '', 'a TFTP server is not something kvmnet serves')
    const prefix = prefixOf(ip, family, address)
    const localPtr = ip.attr('localPtr')
    if (localPtr === 'yes') {
      // kvmnet's dnsmasq answers reverse lookups of private IPv4 ranges itself (bogus-priv), which is what
      // localPtr asks for there; anywhere else they would be forwarded.
      const v4 = family === 'ipv4' && ipaddr.IPv4.isValidFourPartDecimal(address) ? ipaddr.IPv4.parse(address) : undefined
      if (!v4 || !privateV4().some((r) => v4.match(r))) throw new LibvirtImportError('<ip>', 'localPtr', `kvmnet cannot keep reverse lookups of ${address}/${prefix} local (it does so only for private IPv4 ranges)`)
      ctx.notes.push(`<ip address='${address}' localPtr='yes'>: kvmnet's dnsmasq answers reverse lookups of private IPv4 ranges locally (bogus-priv), as asked`)
    } else if (localPtr !== undefined && localPtr !== 'no') throw new LibvirtImportError('<ip>', 'localPtr', `'${localPtr}' is not yes or no`)
    const dhcp = dhcpOf(ctx, ip, family)
    byFamily[family].push({ address: `${address}/${prefix}`, ...(dhcp ? { dhcp } : {}) })
  }
  const section = (list: Json[], extra: Json): Json | undefined => {
    const [first, ...rest] = list
    return first ? { ...first, ...extra, ...(rest.length > 0 ? { extra: rest } : {}) } : undefined
  }
  const ipv4 = section(byFamily.ipv4, {})
  const ipv6 = section(byFamily.ipv6, opts.nat66 ? { nat66: true } : {})
  if (byFamily.ipv6.some((s) => s.dhcp && (s.dhcp as Json).range)) ctx.notes.push('DHCPv6 ranges: kvmnet also lets guests autoconfigure (SLAAC) beside the stateful DHCPv6 address')
  return { ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}) }
}

/**
 * <domain> and <dns> as the spec's dns section. libvirt's dnsmasq serves DNS on every network with an
 * address unless <dns enable='no'>, with or without DHCP: kvmnet does so when the spec has a dns section.
 */
export function dnsSection(ctx: ImportContext, network: XmlElement): Json {
  const dns: Json = { enabled: true }
  const domain = network.one('domain')
  if (domain) {
    visit(ctx, domain)
    const name = domain.attr('name')
    if (!name) throw new LibvirtImportError('<domain>', 'name', 'missing')
    if (domain.attr('register') === 'yes') throw new LibvirtImportError('<domain>', 'register', "registering the domain with systemd-resolved is not something kvmnet does")
    const localOnly = domain.attr('localOnly')
    dns.domain = name
    // libvirt forwards names of the domain it does not know unless localOnly='yes'.
    dns.localOnly = localOnly === 'yes'
  }
  const el = network.one('dns')
  const plainNote = "names without a dot are answered locally only (kvmnet's dnsmasq runs with domain-needed); libvirt forwards them unless <dns forwardPlainNames='no'>"
  if (!el) {
    ctx.notes.push(plainNote)
    return dns
  }
  visit(ctx, el)
  const enable = el.attr('enable')
  if (enable === 'no') {
    const extra = el.children[0]
    if (extra) throw new LibvirtImportError(`<${extra.name}>`, '', 'a record in a <dns enable=\'no\'>: no DNS server would serve it (libvirt refuses this too)')
    return { enabled: false }
  }
  const plain = el.attr('forwardPlainNames')
  if (plain === 'yes') throw new LibvirtImportError('<dns>', 'forwardPlainNames', "kvmnet's dnsmasq never forwards names without a dot upstream (domain-needed)")
  if (plain !== 'no') ctx.notes.push(plainNote)
  const hosts = el.all('host').flatMap((h) => {
    visit(ctx, h)
    const ip = h.attr('ip')
    if (!ip) throw new LibvirtImportError('<host>', 'ip', 'missing')
    return h.all('hostname').map((n) => ({ name: n.text.trim(), ip }))
  })
  const srv = el.all('srv').map((r) => {
    visit(ctx, r)
    const out: Json = { service: r.attr('service'), protocol: r.attr('protocol') }
    if (r.attr('target') === '.') throw new LibvirtImportError('<srv>', 'target', "'.' (the service is decidedly not available, with a port) has no counterpart in kvmnet's SRV records")
    for (const k of ['domain', 'target'] as const) {
      const v = r.attr(k)
      if (v !== undefined) out[k] = v
    }
    const nums = (['port', 'priority', 'weight'] as const).map((k) => {
      const v = r.attr(k)
      if (v !== undefined && !/^\d+$/.test(v)) throw new LibvirtImportError('<srv>', k, `'${v}' is not a number`)
      return v === undefined ? undefined : Number(v)
    })
    // libvirt hands dnsmasq every field up to the last one given, an absent port as 1 and priority as 0
    // (srv-host=_name5._udp,test5.example.com,1,55,555 in its test data).
    const last = nums.findLastIndex((n) => n !== undefined)
    ;(['port', 'priority', 'weight'] as const).forEach((k, i) => {
      if (i <= last) out[k] = nums[i] ?? (k === 'port' ? 1 : 0)
    })
    return out
  })
  const txt = el.all('txt').map((r) => {
    visit(ctx, r)
    return { name: r.attr('name'), value: r.attr('value') }
  })
  const forwarders = el.all('forwarder').map((f) => {
    visit(ctx, f)
    const address = f.attr('addr')
    const d = f.attr('domain')
    if (address === undefined && d === undefined) throw new LibvirtImportError('<forwarder>', 'addr', 'neither addr nor domain')
    return d === undefined ? address : { ...(address !== undefined ? { address } : {}), domain: d }
  })
  if (hosts.length > 0) dns.hosts = hosts
  if (srv.length > 0) dns.srv = srv
  if (txt.length > 0) dns.txt = txt
  if (forwarders.length > 0) dns.forwarders = forwarders
  return dns
}
