/**
 * spec -> plan: everything about a network that follows from its spec alone (names, addresses, which
 * parts run), computed without touching the kernel. Each kind's driver builds its own plan type from the
 * pieces here; the apply then only has to make the kernel match.
 */
import { ipaddr } from '../util/index.js'
import type { HostServices, NetworkRules, PortFilter } from '../nft/index.js'
import type { DnsmasqSpec } from '../dnsmasq/index.js'
import { bridgeMac, defaultBridgeName, defaultLinkGroup, defaultMac, ifbName, linkAlias, networkIfbName, tapHostMac } from './names.js'
import type { DnsSpec, Dhcp4Spec, Dhcp6Spec, MacvtapPortSpec, NetworkBandwidthSpec, NetworkMode, NetworkSpec, NetworkVxlanSpec, PortBandwidthSpec, TapPortSpec } from './spec.js'
import { planVxlan, type PlannedVxlan } from './vxlan.js'

export interface PlannedTap {
  kind: 'tap'
  name: string
  /** Where the port is in the spec, for errors: `ports[2]`. */
  field: string
  /** The guest's MAC (what QEMU is given, what reservations match). */
  mac: string
  /** The tap's own (host-side) MAC, distinct from the guest's. */
  hostMac: string
  owner?: number | undefined
  group?: number | undefined
  queues: number
  vnetHdr: boolean
  persistent: boolean
  /** Filtered against impersonation (the port's own setting, else the network's). */
  filtering: boolean
  /** Limits as the spec gives them (KiB/s, KiB). */
  bandwidth?: PortBandwidthSpec | undefined
  /** The IFB its outbound traffic is shaped on (when it has an outbound limit). */
  ifb?: string | undefined
}

export interface PlannedMacvtap {
  kind: 'macvtap'
  name: string
  field: string
  /** The guest's MAC, which a macvtap carries itself (that is how macvtap works). */
  mac: string
}

export type PlannedPort = PlannedTap | PlannedMacvtap

/** Where a port attaches: the bridge, or (macvtap) the parent NIC in the network's macvtap mode. */
export type PortAnchor = { bridge: string } | { parent: string; mode: 'bridge' | 'vepa' | 'private' | 'passthru' }

/** A sysctl a network needs, in /proc/sys path form (net/ipv4/ip_forward). */
export interface WantedSysctl {
  key: string
  value: string
}

export type DnsmasqPlan = Omit<DnsmasqSpec, 'stateDir'>

interface BasePlan<M extends NetworkMode> {
  mode: M
  name: string
  group: number
  alias: { bridge: string; port: string; host: string; vxlan: string; ifb: string }
  mtu?: number | undefined
  ports: PlannedPort[]
  /** Sysctls of the namespace the network needs (ip_forward ...), set and later put back. */
  sysctls: WantedSysctl[]
}

/** The parts every bridged kind has. */
export interface BridgePart {
  bridge: string
  /** The bridge's fixed MAC; absent for a bridge network, whose bridge takes the NIC's. */
  bridgeMac?: string | undefined
  /** Host-side addresses on the bridge (CIDR). */
  addresses: string[]
  /** The IPv4 subnet (network/prefix) when there is one. */
  subnet?: string | undefined
  /** The IPv6 prefix (network/prefix) when there is one. */
  subnet6?: string | undefined
  /** No host address at all: IPv6 is disabled on the bridge, so not even link-local talks. */
  noHostAddress: boolean
  /** A VXLAN device on the bridge that stretches the network to other hosts. */
  vxlan?: PlannedVxlan | undefined
  /** The bridge takes over a NIC and keeps its MTU (the LAN's); only a vxlan on it fits its underlay. */
  mtuFromNic: boolean
  /** The cap on the whole network, as the spec gives it. */
  bandwidth?: NetworkBandwidthSpec | undefined
  /** With an outbound cap: the IFB every tap's ingress goes through (the ports' own IFBs are not made). */
  outboundIfb?: string | undefined
}

export interface NatPlan extends BasePlan<'nat'>, BridgePart {
  firewall: NetworkRules
  dnsmasq?: DnsmasqPlan | undefined
}
export interface RoutedPlan extends BasePlan<'routed'>, BridgePart {
  firewall: NetworkRules
  dnsmasq?: DnsmasqPlan | undefined
}
export interface OpenPlan extends BasePlan<'open'>, BridgePart {
  dnsmasq?: DnsmasqPlan | undefined
}
export interface IsolatedPlan extends BasePlan<'isolated'>, BridgePart {
  firewall: NetworkRules
  dnsmasq?: DnsmasqPlan | undefined
}
export type VeryIsolatedPlan = BasePlan<'very-isolated'> & BridgePart
export interface BridgeKindPlan extends BasePlan<'bridge'>, BridgePart {
  /** The NIC enslaved to the bridge (its addresses and routes move over). */
  nic: string
  /** Hand over a NIC that a DHCP client or NetworkManager manages (else such a NIC is refused). */
  adoptManagedInterface: boolean
}
export interface MacvtapPlan extends BasePlan<'macvtap'> {
  parent: string
  macvtapMode: 'bridge' | 'vepa' | 'private' | 'passthru'
  /** hostAccess: the host macvlan and its addresses. */
  hostHelper?: { name: string; addresses: string[]; subnet?: string | undefined } | undefined
}

export type NetworkPlan = NatPlan | RoutedPlan | OpenPlan | IsolatedPlan | VeryIsolatedPlan | BridgeKindPlan | MacvtapPlan
export type PlanOf<M extends NetworkMode> = Extract<NetworkPlan, { mode: M }>

export function networkOf(cidr: string): string {
  const [addr, len] = ipaddr.parseCIDR(cidr)
  const net = addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr)
  return `${net.toString()}/${len}`
}

export function hostOf(cidr: string): string {
  return cidr.slice(0, cidr.indexOf('/'))
}

/** The fields every plan has. */
export function basePlan<M extends NetworkMode>(spec: NetworkSpec & { mode: M }, ports: PlannedPort[], sysctls: WantedSysctl[]): BasePlan<M> {
  return {
    mode: spec.mode,
    name: spec.name,
    group: spec.group ?? defaultLinkGroup(spec.name),
    alias: { bridge: linkAlias(spec.name, 'bridge'), port: linkAlias(spec.name, 'port'), host: linkAlias(spec.name, 'host'), vxlan: linkAlias(spec.name, 'vxlan'), ifb: linkAlias(spec.name, 'ifb') },
    mtu: spec.mtu,
    ports,
    sysctls,
  }
}

/** The bridge part from a bridged spec's name, addresses and (for bridge networks) no fixed MAC. */
export function bridgePart(
  spec: { name: string; bridge?: string | undefined; vxlan?: NetworkVxlanSpec | undefined; bandwidth?: NetworkBandwidthSpec | undefined },
  addresses: { v4?: string | undefined; v6?: string | undefined; extra?: readonly string[] | undefined },
  opts: { takesNic: boolean } = { takesNic: false },
): BridgePart {
  const list = [addresses.v4, addresses.v6, ...(addresses.extra ?? [])].filter((a): a is string => a !== undefined)
  return {
    bridge: spec.bridge ?? defaultBridgeName(spec.name),
    bridgeMac: opts.takesNic ? undefined : bridgeMac(spec.name),
    addresses: list,
    subnet: addresses.v4 ? networkOf(addresses.v4) : undefined,
    subnet6: addresses.v6 ? networkOf(addresses.v6) : undefined,
    noHostAddress: list.length === 0,
    vxlan: planVxlan(spec.name, spec.vxlan),
    mtuFromNic: opts.takesNic,
    bandwidth: spec.bandwidth,
    outboundIfb: spec.bandwidth?.outbound ? networkIfbName(spec.name) : undefined,
  }
}

export function planTap(network: string, p: TapPortSpec, index: number, networkFiltering = false): PlannedTap {
  const mac = (p.mac ?? defaultMac(network, p.name)).toLowerCase()
  return {
    kind: 'tap',
    name: p.name,
    field: `ports[${index}]`,
    mac,
    hostMac: tapHostMac(mac),
    owner: p.owner,
    group: p.group,
    queues: p.queues ?? 1,
    vnetHdr: p.vnetHdr ?? true,
    persistent: p.persistent ?? true,
    filtering: p.filtering ?? networkFiltering,
    bandwidth: p.bandwidth,
    ifb: p.bandwidth?.outbound ? ifbName(network, p.name) : undefined,
  }
}

export function planMacvtapPort(network: string, p: MacvtapPortSpec, index: number): PlannedMacvtap {
  return { kind: 'macvtap', name: p.name, field: `ports[${index}]`, mac: (p.mac ?? defaultMac(network, p.name)).toLowerCase() }
}

export function planTaps(spec: { name: string; ports?: readonly TapPortSpec[] | undefined; filtering?: boolean | undefined }): PlannedTap[] {
  return (spec.ports ?? []).map((p, i) => planTap(spec.name, p, i, spec.filtering ?? false))
}

/**
 * The filters of the ports that ask for one: a port's address is the reservation of its guest MAC; a port
 * without one may use any address but the other guests' reservations.
 */
export function portFilters(taps: readonly PlannedTap[], hosts: readonly { mac: string; ip: string }[]): PortFilter[] {
  const reserved = hosts.map((h) => h.ip)
  return taps
    .filter((p) => p.filtering)
    .map((p) => {
      const own = hosts.find((h) => h.mac.toLowerCase() === p.mac)?.ip
      return { port: p.name, mac: p.mac, ipv4: own, othersIpv4: reserved.filter((ip) => ip !== own) }
    })
}

/**
 * The rules every kind with a table starts from: its subnets and host addresses, what guests may reach
 * on the host, and the port filters. Each kind adds its own (NAT, uplink, forwards).
 */
export function baseRules(
  spec: {
    name: string
    ipv4?: { address?: string | undefined; dhcp?: Dhcp4Spec | undefined; extra?: readonly { address: string; dhcp?: Dhcp4Spec | undefined }[] | undefined } | undefined
    ipv6?: { address: string; extra?: readonly { address: string }[] | undefined } | undefined
    host?: { services?: HostServices | undefined } | undefined
    ports?: readonly TapPortSpec[] | undefined
    filtering?: boolean | undefined
  },
  part: BridgePart,
  mode: NetworkRules['mode'],
): NetworkRules {
  const v4 = spec.ipv4?.address
  return {
    tag: spec.name,
    bridge: part.bridge,
    mode,
    ...(v4 && part.subnet ? { ipv4: { subnet: part.subnet, hostAddress: hostOf(v4) } } : {}),
    ...(spec.ipv6 && part.subnet6 ? { ipv6: { subnet: part.subnet6, hostAddress: hostOf(spec.ipv6.address) } } : {}),
    // The further subnets of either family: forwarded, masqueraded and filtered like the first of theirs.
    ...(v4 || spec.ipv6 ? { extraSubnets: [...(v4 ? (spec.ipv4?.extra ?? []) : []), ...(spec.ipv6?.extra ?? [])].map((e) => networkOf(e.address)) } : {}),
    forwards: [],
    hostServices: spec.host?.services ?? 'all',
    portFilters: portFilters(planTaps(spec), [...(spec.ipv4?.dhcp?.hosts ?? []), ...(spec.ipv4?.extra ?? []).flatMap((e) => e.dhcp?.hosts ?? [])]),
  }
}

/** ip_forward (and IPv6 forwarding when the network has a prefix) for the kinds that route. */
export function forwardingSysctls(part: BridgePart): WantedSysctl[] {
  return [
    { key: 'net/ipv4/ip_forward', value: '1' },
    ...(part.subnet6 ? [{ key: 'net/ipv6/conf/all/forwarding', value: '1' }] : []),
  ]
}
