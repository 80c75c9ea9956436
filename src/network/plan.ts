/**
 * spec -> plan: everything about a network that follows from its spec alone (names, addresses, which
 * parts run), computed without touching the kernel. The apply then only has to make the kernel match.
 */
import ipaddr from 'ipaddr.js'
import type { NetworkRules } from '../nft/index.js'
import type { DnsmasqSpec } from '../dnsmasq/index.js'
import { defaultBridgeName, defaultLinkGroup, defaultMac, linkAlias } from './names.js'
import type { NetworkSpec, PortSpec } from './spec.js'

export interface PlannedPort {
  name: string
  kind: 'tap' | 'macvtap'
  mac: string
  owner?: number | undefined
  group?: number | undefined
  queues: number
  vnetHdr: boolean
  persistent: boolean
}

export interface NetworkPlan {
  name: string
  mode: NetworkSpec['mode']
  /** The bridge (absent for macvtap networks). */
  bridge?: string | undefined
  group: number
  alias: { bridge: string; port: string; host: string }
  mtu?: number | undefined
  /** Host-side addresses to put on the bridge (or the macvtap host helper). */
  addresses: string[]
  /** The IPv4 subnet (network/prefix) when there is one. */
  subnet?: string | undefined
  /** IPv6 prefix (network/prefix) when there is one. */
  subnet6?: string | undefined
  /** macvtap hostAccess: the host macvlan's name. */
  hostHelper?: string | undefined
  /** Whether the bridge has no host address at all: IPv6 is disabled on it so not even link-local talks. */
  noHostAddress: boolean
  ports: PlannedPort[]
  firewall?: NetworkRules | undefined
  dnsmasq?: Omit<DnsmasqSpec, 'stateDir'> | undefined
  ipForward: boolean
  /** macvtap networks: the parent NIC and the mode of every macvtap port. */
  macvtapParent?: string | undefined
  macvtapMode?: 'bridge' | 'vepa' | 'private' | 'passthru' | undefined
}

function network(cidr: string): string {
  const [addr, len] = ipaddr.parseCIDR(cidr)
  const net =
    addr.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(cidr)
      : ipaddr.IPv6.networkAddressFromCIDR(cidr)
  return `${net.toString()}/${len}`
}

/** macvtap host helper: kvh-<name>, within 15 bytes. */
export function hostHelperName(spec: NetworkSpec): string {
  return defaultBridgeName(spec.name).replace(/^kvbr-/, 'kvh-')
}

export function planPort(spec: NetworkSpec, p: PortSpec): PlannedPort {
  return {
    name: p.name,
    kind: p.kind ?? (spec.mode === 'macvtap' ? 'macvtap' : 'tap'),
    mac: (p.mac ?? defaultMac(spec.name, p.name)).toLowerCase(),
    owner: p.owner,
    group: p.group,
    queues: p.queues ?? 1,
    vnetHdr: p.vnetHdr ?? true,
    persistent: p.persistent ?? true,
  }
}

export function planNetwork(spec: NetworkSpec): NetworkPlan {
  const mode = spec.mode
  const bridge = mode === 'macvtap' ? undefined : (spec.bridge ?? defaultBridgeName(spec.name))
  const addr4 = spec.ipv4?.address
  const addr6 = spec.ipv6?.address
  const addresses = [addr4, addr6].filter((a): a is string => a !== undefined)
  const subnet = addr4 ? network(addr4) : undefined
  const subnet6 = addr6 ? network(addr6) : undefined
  const hostIp = addr4?.split('/')[0]
  const routed = mode === 'nat' || mode === 'isolated' || mode === 'very-isolated'

  const firewall: NetworkRules | undefined = routed
    ? {
        tag: spec.name,
        bridge: bridge!,
        mode: mode === 'nat' ? 'nat' : 'isolated',
        ...(subnet ? { ipv4: { subnet, hostAddress: hostIp } } : {}),
        ...(subnet6 ? { ipv6: { subnet: subnet6, hostAddress: addr6!.split('/')[0], nat66: spec.ipv6?.nat66 ?? false } } : {}),
        ...(mode === 'nat' ? { nat: { uplink: spec.uplink, snat: spec.snat } } : {}),
        forwards: (spec.forwards ?? []).map((f) => ({ ...f })),
      }
    : undefined

  const dhcp = spec.ipv4?.dhcp
  const runDnsmasq = routed && hostIp !== undefined && (dhcp !== undefined || spec.dns !== undefined)
  const dnsOn = spec.dns?.enabled ?? true
  const dnsmasq: NetworkPlan['dnsmasq'] = runDnsmasq
    ? {
        network: spec.name,
        interface: bridge!,
        subnet: subnet!,
        hostAddress: hostIp!,
        ...(dhcp
          ? {
              dhcp: {
                range: dhcp.range,
                ...(dhcp.leaseTime !== undefined ? { leaseTime: dhcp.leaseTime } : {}),
                hosts: (dhcp.hosts ?? []).map((h) => ({ ...h })),
                // Isolated networks lead nowhere: no default route is handed out, so guests do not try.
                router: mode === 'nat' ? hostIp! : false,
                ...(spec.mtu !== undefined ? { mtu: spec.mtu } : {}),
              },
            }
          : {}),
        dns: dnsOn
          ? {
              ...(spec.dns?.domain ? { domain: spec.dns.domain } : {}),
              hosts: (spec.dns?.hosts ?? []).map((h) => ({ ...h })),
              forwarders: spec.dns?.forwarders ?? [],
            }
          : false,
      }
    : undefined

  return {
    name: spec.name,
    mode,
    bridge,
    group: spec.group ?? defaultLinkGroup(spec.name),
    alias: { bridge: linkAlias(spec.name, 'bridge'), port: linkAlias(spec.name, 'port'), host: linkAlias(spec.name, 'host') },
    mtu: spec.mtu,
    addresses: mode === 'bridge' ? [] : addresses,
    subnet,
    subnet6,
    hostHelper: mode === 'macvtap' && spec.hostAccess ? hostHelperName(spec) : undefined,
    noHostAddress: routed && addresses.length === 0,
    ports: (spec.ports ?? []).map((p) => planPort(spec, p)),
    firewall,
    dnsmasq,
    ipForward: mode === 'nat',
    macvtapParent: mode === 'macvtap' ? spec.interface : undefined,
    macvtapMode: mode === 'macvtap' ? (spec.macvtapMode ?? 'bridge') : undefined,
  }
}
