/**
 * The dnsmasq config of one network, rendered from a validated spec. Pure: the same spec and paths give
 * the same bytes, which is what lets reload() tell "SIGHUP is enough" (only the hosts files changed)
 * from "restart" (anything in the main config changed).
 */
import { formatIpv4, netmask, parseIpv4Subnet } from './ipv4.js'
import type { DnsmasqPaths } from './paths.js'
import { validateDnsmasqSpec, type DhcpRange, type DhcpReservation, type DnsForwarder, type DnsmasqDhcp6Spec, type DnsmasqSpec, type DnsSrvRecord, type LeaseTime } from './spec.js'

export interface RenderedConfig {
  conf: string
  /** dhcp-hostsfile contents: 'mac,ip[,name][,lease]' per reservation. */
  hostsFile: string
  /** addn-hosts contents: 'ip name' per record. */
  addnHosts: string
}

export interface RenderOptions {
  /**
   * User dnsmasq runs as after binding its sockets. 'root' keeps its privileges, which a supervised
   * instance needs: the kernel clears PR_SET_PDEATHSIG on any uid change, so a dnsmasq that dropped to
   * 'nobody' would outlive a crashed parent (for 'root', the group stays root for the same reason).
   * Default 'root'.
   */
  user?: string
}

export const DEFAULT_LEASE_TIME = 3600

function lease(t: LeaseTime): string {
  return t === 'infinite' ? 'infinite' : String(t)
}

/** A value inside double quotes in a config line: dnsmasq reads \\ and \" there (validation allows printable ASCII only). */
function quoted(v: string): string {
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

/** srv-host=_service._protocol[.domain][,target[,port[,priority[,weight]]]] (validation keeps the order). */
function srvLine(r: DnsSrvRecord): string {
  const name = `_${r.service}._${r.protocol}${r.domain ? `.${r.domain}` : ''}`
  const rest = [r.target, r.port, r.priority, r.weight].filter((x) => x !== undefined)
  return `srv-host=${[name, ...rest].join(',')}`
}

/** A forwarder: everything, one domain to an address, or ({ domain } alone) one domain to the ordinary upstreams ('#'). */
function serverLine(f: DnsForwarder): string {
  if (typeof f === 'string') return `server=${f}`
  if (f.domain === undefined) return `server=${f.address ?? ''}`
  return `server=/${f.domain}/${f.address ?? '#'}`
}

/** dhcp-range lines of one IPv4 subnet: each range, or `static` (reservations only) when it has none. */
function ranges4(d: { range?: [string, string]; ranges?: DhcpRange[]; leaseTime?: LeaseTime }, net: string, mask: string, tag: string): string[] {
  const def = d.leaseTime ?? DEFAULT_LEASE_TIME
  const set = tag ? `set:${tag},` : ''
  if (d.range) return [`dhcp-range=${set}${d.range[0]},${d.range[1]},${mask},${lease(def)}`]
  if (d.ranges) return d.ranges.map((r) => `dhcp-range=${set}${r.start},${r.end},${mask},${lease(r.leaseTime ?? def)}`)
  return [`dhcp-range=${set}${net},static,${mask},${lease(def)}`]
}

/** dhcp-range lines of one IPv6 prefix: stateful ranges, `static` (reservations only), or stateless (SLAAC + DNS). */
function ranges6(d: DnsmasqDhcp6Spec | undefined, prefix: string, statelessLease: LeaseTime): string[] {
  const net = prefix.split('/')[0] ?? prefix
  if (!d) return [`dhcp-range=${net},ra-stateless,64,${lease(statelessLease)}`]
  const def = d.leaseTime ?? DEFAULT_LEASE_TIME
  if (d.range) return [`dhcp-range=${d.range[0]},${d.range[1]},slaac,64,${lease(def)}`]
  if (d.ranges) return d.ranges.map((r) => `dhcp-range=${r.start},${r.end},slaac,64,${lease(r.leaseTime ?? def)}`)
  return [`dhcp-range=${net},static,slaac,64,${lease(def)}`]
}

function host4(h: DhcpReservation): string {
  return [h.mac.toLowerCase(), h.ip, ...(h.name ? [h.name] : []), ...(h.leaseTime !== undefined ? [lease(h.leaseTime)] : [])].join(',')
}

/** A DHCPv6 reservation: the address in brackets, matched by client DUID (id:) or MAC, with its lease time. */
function host6(h: NonNullable<DnsmasqDhcp6Spec['hosts']>[number]): string {
  const who = h.id ? `id:${h.id.toLowerCase()}` : (h.mac ?? '').toLowerCase()
  return [who, `[${h.ip}]`, ...(h.name ? [h.name] : []), ...(h.leaseTime !== undefined ? [lease(h.leaseTime)] : [])].join(',')
}

/**
 * Whether dnsmasq asks the namespace's resolvers (resolv-file) for names no forwarder covers: with no
 * forwarders listed, and with forwarders that are each limited to a domain (libvirt writes no-resolv only
 * for a forwarder of every name). `[]` means local names only.
 */
export function usesNamespaceResolvers(forwarders: readonly (string | { domain?: string | undefined; address?: string | undefined })[] | undefined): boolean {
  if (forwarders === undefined) return true
  return forwarders.length > 0 && forwarders.every((f) => typeof f !== 'string' && f.domain !== undefined)
}

/** Throws SpecError on an invalid spec (validation runs first, so nothing invalid reaches a config line). */
export function renderConfig(spec: DnsmasqSpec, paths: DnsmasqPaths, opts: RenderOptions = {}): RenderedConfig {
  validateDnsmasqSpec(spec)
  const user = opts.user ?? 'root'
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new TypeError(`renderConfig: bad user name ${JSON.stringify(user)}`)
  const dns = spec.dns === false ? undefined : (spec.dns ?? {})
  const dhcp = spec.dhcp
  const extra = spec.extra ?? []
  const v6 = spec.ipv6
  const v6all = v6 ? [{ prefix: v6.prefix, hostAddress: v6.hostAddress, dhcp: v6.dhcp }, ...(v6.extra ?? [])] : []
  const any4 = dhcp !== undefined || extra.some((e) => e.dhcp)
  const any6 = v6all.some((p) => p.dhcp)
  // Upstream servers: the listed forwarders, else the resolv.conf chosen for the namespace (followed as it
  // changes), else none. Forwarders that are each limited to a domain leave the namespace's resolvers in
  // charge of every other name (libvirt writes no-resolv only for a forwarder of every name).
  const resolvFile = dns && usesNamespaceResolvers(dns.forwarders) ? dns.resolvFile : undefined
  const listen = [spec.hostAddress, ...extra.map((e) => e.hostAddress), ...v6all.map((p) => p.hostAddress)].filter((a): a is string => a !== undefined)
  const lines: string[] = [
    `# dnsmasq for kvmnet network ${spec.network}: generated by kvmnet, rewritten on every change.`,
    `user=${user}`,
    // dnsmasq's default group is 'dip'; that setgid would clear PR_SET_PDEATHSIG just like a setuid.
    ...(user === 'root' ? ['group=root'] : []),
    `pid-file=${paths.pidFile}`,
    'log-facility=-',
    '',
    '# Only the bridge: the DHCP socket is bound to the device, DNS to the bridge address; never lo.',
    'bind-interfaces',
    `interface=${spec.interface}`,
    'except-interface=lo',
    ...listen.map((a) => `listen-address=${a}`),
    '',
    '# Nothing from the host this namespace happens to share files with.',
    'no-hosts',
    resolvFile !== undefined ? `resolv-file=${resolvFile}` : 'no-resolv',
  ]
  if (!dns) {
    lines.push('', '# DHCP only.', 'port=0')
  } else {
    lines.push('', '# DNS.', 'domain-needed', 'bogus-priv', `addn-hosts=${paths.addnHosts}`)
    if (dns.domain) lines.push(`domain=${dns.domain}`, ...(dns.localOnly !== false ? [`local=/${dns.domain}/`] : []), 'expand-hosts')
    for (const f of dns.forwarders ?? []) lines.push(serverLine(f))
    for (const r of dns.srv ?? []) lines.push(srvLine(r))
    for (const r of dns.txt ?? []) lines.push(`txt-record=${r.name},${quoted(r.value)}`)
  }
  if (any4 && spec.subnet !== undefined && spec.hostAddress !== undefined) {
    const subnet = parseIpv4Subnet(spec.subnet)
    if ('error' in subnet) throw new Error('unreachable: subnet validated')
    const router = dhcp?.router
    lines.push('', '# DHCP.')
    if (dhcp) lines.push(...ranges4(dhcp, formatIpv4(subnet.network), netmask(subnet.prefix), ''))
    lines.push(
      `dhcp-hostsfile=${paths.hostsFile}`,
      `dhcp-leasefile=${paths.leaseFile}`,
      'dhcp-authoritative',
      '# A new guest gets its lease at once: no 3 s ping probe before the offer, and a 2-message exchange when asked.',
      'no-ping',
      'dhcp-rapid-commit',
      // Empty option values make dnsmasq send no such option, rather than its own address by default.
      `dhcp-option=option:router${router === false ? '' : `,${router ?? spec.hostAddress}`}`,
    )
    const dnsServer = dhcp?.dnsServer ?? (dns ? spec.hostAddress : undefined)
    lines.push(`dhcp-option=option:dns-server${dnsServer ? `,${dnsServer}` : ''}`)
    if (dhcp?.mtu !== undefined) lines.push(`dhcp-option=option:mtu,${dhcp.mtu}`)
    // Each further subnet: its ranges tagged, so its guests get its own host address as router and DNS
    // server (tagged options win over the untagged ones above).
    extra.forEach((e, i) => {
      if (!e.dhcp) return
      const sub = parseIpv4Subnet(e.subnet)
      if ('error' in sub) throw new Error('unreachable: subnet validated')
      const tag = `extra${i}`
      lines.push(...ranges4({ leaseTime: dhcp?.leaseTime, ...e.dhcp }, formatIpv4(sub.network), netmask(sub.prefix), tag))
      if (router !== false) lines.push(`dhcp-option=tag:${tag},option:router,${e.hostAddress}`)
      if (dns) lines.push(`dhcp-option=tag:${tag},option:dns-server,${e.hostAddress}`)
    })
  }
  if (v6) {
    lines.push(
      '',
      '# IPv6: router advertisements for the prefix (SLAAC), with DHCPv6: stateless for DNS information,',
      '# or stateful from a range (the advertisements then ask for DHCPv6 and still allow SLAAC).',
      'enable-ra',
      ...v6all.flatMap((p) => ranges6(p.dhcp, p.prefix, dhcp?.leaseTime ?? DEFAULT_LEASE_TIME)),
      ...(any6 && !any4 ? [`dhcp-hostsfile=${paths.hostsFile}`, `dhcp-leasefile=${paths.leaseFile}`] : []),
      // interval 10 s; router lifetime 0 says "not a default router" (a network that leads nowhere).
      `ra-param=${spec.interface},${v6.mtu !== undefined ? `mtu:${v6.mtu},` : ''}10${v6.router ? '' : ',0'}`,
      ...(dns ? [`dhcp-option=option6:dns-server,[${v6.hostAddress}]`] : []),
      ...(dns?.domain ? [`dhcp-option=option6:domain-search,${dns.domain}`] : []),
    )
  }
  const hostsFile = [
    ...(dhcp?.hosts ?? []).map(host4),
    ...extra.flatMap((e) => (e.dhcp?.hosts ?? []).map(host4)),
    ...v6all.flatMap((p) => (p.dhcp?.hosts ?? []).map(host6)),
  ]
    .map((l) => `${l}\n`)
    .join('')
  const addnHosts = (dns?.hosts ?? []).map((h) => `${h.ip} ${h.name}\n`).join('')
  return { conf: `${lines.join('\n')}\n`, hostsFile, addnHosts }
}
