/**
 * The parts of a spec that only some kinds have — forwards (nat), DHCP and DNS (the kinds with a host
 * address and dnsmasq), a VXLAN segment (every bridged kind), firewall options — read and replaced here,
 * by kind, so that no code outside kinds/ asks which kind a spec is or probes it for a field.
 */
import { ipaddr } from '../../util/index.js'
import { SpecError } from '../../errors.js'
import type {
  Dhcp4Spec,
  DhcpHostSpec,
  Ipv4ExtraSpec,
  DnsHostSpec,
  ForwardSpec,
  IsolatedNetworkSpec,
  NatNetworkSpec,
  NetworkSpec,
  NetworkVxlanSpec,
  OpenNetworkSpec,
  PortSpec,
  RoutedNetworkSpec,
} from '../spec.js'

/** The kinds whose dnsmasq can serve DHCP and DNS. */
type ServedSpec = NatNetworkSpec | RoutedNetworkSpec | OpenNetworkSpec | IsolatedNetworkSpec

function served(spec: NetworkSpec): ServedSpec | undefined {
  switch (spec.mode) {
    case 'nat':
    case 'routed':
    case 'open':
    case 'isolated':
      return spec
    case 'very-isolated':
    case 'bridge':
    case 'macvtap':
      return undefined
  }
}

/** The spec's port forwards ([] for kinds without forwards). */
export function forwardsOf(spec: NetworkSpec): readonly ForwardSpec[] {
  return spec.mode === 'nat' ? (spec.forwards ?? []) : []
}

/** Whether the spec's kind has port forwards (nat). */
export function takesForwards(spec: NetworkSpec): boolean {
  return spec.mode === 'nat'
}

/** The spec with these forwards; a SpecError on `forwards` for a kind that has none. */
export function withForwards(spec: NetworkSpec, forwards: ForwardSpec[]): NetworkSpec {
  if (spec.mode !== 'nat') throw new SpecError('forwards', `port forwards need a nat network (${spec.name} is ${spec.mode})`)
  return { ...spec, forwards }
}

/** Whether the spec's network runs a DHCPv4 server (reservations are possible) on any of its subnets. */
export function hasDhcp(spec: NetworkSpec): boolean {
  const v4 = served(spec)?.ipv4
  return v4?.dhcp !== undefined || (v4?.extra ?? []).some((e) => e.dhcp !== undefined)
}

/** The spec's DHCPv4 reservations, of every subnet (the first, then ipv4.extra's). */
export function dhcpHostsOf(spec: NetworkSpec): readonly DhcpHostSpec[] {
  const v4 = served(spec)?.ipv4
  return [...(v4?.dhcp?.hosts ?? []), ...(v4?.extra ?? []).flatMap((e) => e.dhcp?.hosts ?? [])]
}

/** The index of the ipv4.extra subnet with DHCP that holds `ip`, else undefined (the first subnet's). */
function extraOf(extra: readonly Ipv4ExtraSpec[], ip: string): number | undefined {
  const a = ipaddr.IPv4.isValidFourPartDecimal(ip) ? ipaddr.IPv4.parse(ip) : undefined
  const i = extra.findIndex((e) => e.dhcp !== undefined && a !== undefined && a.match(ipaddr.IPv4.parseCIDR(e.address)))
  return i >= 0 ? i : undefined
}

/** ipv4 with `hosts` shared out over its subnets by address: each reservation goes to the DHCP of its subnet. */
function ipv4WithHosts<V extends { dhcp?: Dhcp4Spec | undefined; extra?: readonly Ipv4ExtraSpec[] | undefined }>(ipv4: V, hosts: DhcpHostSpec[], noDhcp: () => Error): V {
  const extra = ipv4.extra ?? []
  const mine = (i: number | undefined) => hosts.filter((h) => extraOf(extra, h.ip) === i)
  const first = mine(undefined)
  if (!ipv4.dhcp && first.length > 0) throw noDhcp()
  return {
    ...ipv4,
    ...(ipv4.dhcp ? { dhcp: { ...ipv4.dhcp, hosts: first } } : {}),
    ...(ipv4.extra ? { extra: extra.map((e, i) => (e.dhcp ? { ...e, dhcp: { ...e.dhcp, hosts: mine(i) } } : e)) } : {}),
  }
}

/** Every dynamic DHCPv4 range of the network's own subnet, in the spec's order (`range`, or each of `ranges`). */
export function dhcpRangesOf(spec: NetworkSpec): Array<readonly [string, string]> {
  const dhcp = served(spec)?.ipv4?.dhcp
  if (dhcp?.range) return [dhcp.range]
  return (dhcp?.ranges ?? []).map((r) => [r.start, r.end] as const)
}

/** The host's IPv4 address on the network (CIDR), when it has one. */
export function hostIpv4Of(spec: NetworkSpec): string | undefined {
  if (spec.mode === 'macvtap') return spec.ipv4?.address
  return served(spec)?.ipv4?.address
}

/** The host's IPv6 address on the network (CIDR), when it has one. */
export function hostIpv6Of(spec: NetworkSpec): string | undefined {
  return served(spec)?.ipv6?.address
}

/** The spec with these DHCPv4 reservations; a SpecError on `ipv4.dhcp` when the network has no DHCP. */
export function withDhcpHosts(spec: NetworkSpec, hosts: DhcpHostSpec[]): NetworkSpec {
  const noDhcp = () => new SpecError('ipv4.dhcp', `network ${spec.name} runs no DHCP server`)
  switch (spec.mode) {
    case 'nat':
    case 'routed':
    case 'open': {
      const ipv4 = spec.ipv4
      if (!ipv4 || !hasDhcp(spec)) throw noDhcp()
      return { ...spec, ipv4: ipv4WithHosts(ipv4, hosts, noDhcp) }
    }
    case 'isolated': {
      const ipv4 = spec.ipv4
      if (!ipv4 || !hasDhcp(spec)) throw noDhcp()
      return { ...spec, ipv4: ipv4WithHosts(ipv4, hosts, noDhcp) }
    }
    case 'very-isolated':
    case 'bridge':
    case 'macvtap':
      throw noDhcp()
  }
}

/** Whether the network's dnsmasq answers DNS (a record for a name is worth adding). */
export function servesDns(spec: NetworkSpec): boolean {
  const s = served(spec)
  return s !== undefined && s.dns?.enabled !== false
}

/** The spec's extra DNS records. */
export function dnsHostsOf(spec: NetworkSpec): readonly DnsHostSpec[] {
  return served(spec)?.dns?.hosts ?? []
}

/** The spec with these DNS records; a SpecError on `dns` for a kind that serves no DNS. */
export function withDnsHosts(spec: NetworkSpec, hosts: DnsHostSpec[]): NetworkSpec {
  const s = served(spec)
  if (!s) throw new SpecError('dns', `network ${spec.name} serves no DNS (a ${spec.mode} network)`)
  return { ...s, dns: { ...(s.dns ?? {}), hosts } }
}

/** The spec's VXLAN segment, if its kind can have one and it asks for it. */
export function vxlanSpecOf(spec: NetworkSpec): NetworkVxlanSpec | undefined {
  return spec.mode === 'macvtap' ? undefined : spec.vxlan
}

/** The spec with this VXLAN segment; a SpecError on `vxlan` when it has none to change. */
export function withVxlan(spec: NetworkSpec, vxlan: NetworkVxlanSpec): NetworkSpec {
  if (spec.mode === 'macvtap' || !spec.vxlan) throw new SpecError('vxlan', `network ${spec.name} has no vxlan segment (add one to its spec and run up)`)
  return { ...spec, vxlan }
}

/**
 * The spec with `port` added (or replacing the port of its name): a tap on the bridged kinds, a macvtap on
 * macvtap networks; a SpecError on `kind` for the other. Fields of the wrong kind are left for the
 * schema to name when the edited spec is validated.
 */
export function withPort(spec: NetworkSpec, port: PortSpec): NetworkSpec {
  const { kind, ...rest } = port
  if (spec.mode === 'macvtap') {
    if (kind === 'tap') throw new SpecError('kind', `a macvtap network has macvtap ports, not taps`)
    return { ...spec, ports: [...(spec.ports ?? []).filter((p) => p.name !== port.name), { ...rest, ...(kind ? { kind } : {}) }] }
  }
  if (kind === 'macvtap') throw new SpecError('kind', `a ${spec.mode} network has tap ports, not macvtaps`)
  const tap = { ...rest, ...(kind ? { kind } : {}) }
  return { ...spec, ports: [...(spec.ports ?? []).filter((p) => p.name !== port.name), tap] }
}

/** The spec without the port named `name` (unchanged when it has none). */
export function withoutPort(spec: NetworkSpec, name: string): NetworkSpec {
  if (spec.mode === 'macvtap') return { ...spec, ports: (spec.ports ?? []).filter((p) => p.name !== name) }
  return { ...spec, ports: (spec.ports ?? []).filter((p) => p.name !== name) }
}

/** firewall.coexist, default on — off for open networks, whose point is that kvmnet adds no rules. */
export function coexistEnabled(spec: NetworkSpec): boolean {
  const opt = spec.mode === 'macvtap' ? undefined : spec.firewall?.coexist
  return opt ?? spec.mode !== 'open'
}
