/**
 * What a network asks of the firewall, in the network's own terms (subnets, bridge, forwards), with no
 * nftables vocabulary: the network layer fills this in, render.ts turns it into nft's JSON.
 */

/** The rules one kvmnet network needs. */
export interface NetworkRules {
  /** Network name, [A-Za-z0-9_-]{1,32}: names the table (kvmnet_<tag>) and every rule comment. */
  tag: string
  /** The network's bridge ifname. */
  bridge: string
  /**
   * 'nat': routed and masqueraded out; 'routed': forwarded between the bridge and the uplink for the
   * network's own subnet only, no NAT (guests are reached by their own addresses); 'isolated': nothing is
   * forwarded from or to the bridge.
   */
  mode: 'nat' | 'routed' | 'isolated'
  ipv4?: { subnet: string; hostAddress?: string | undefined } | undefined
  /** nat66: masquerade IPv6 too; snat: with nat66, SNAT to this fixed IPv6 address instead. */
  ipv6?: { subnet: string; hostAddress?: string | undefined; nat66?: boolean | undefined; snat?: string | undefined } | undefined
  /** More subnets on the bridge (CIDR, either family): forwarded, masqueraded (IPv6: with nat66) and isolated like the first of theirs. */
  extraSubnets?: string[] | undefined
  nat?:
    | {
        /** Only masquerade (and only forward) out of this ifname. */
        uplink?: string | undefined
        /** SNAT to this fixed IPv4 source instead of masquerading. */
        snat?: string | undefined
      }
    | undefined
  /**
   * What guests may reach on the host (any host address): 'all' (default, no input rules), 'dhcp-dns'
   * (DHCP, DHCPv6, DNS, IPv6 neighbour discovery and replies to the host's own connections), or those plus
   * the listed services.
   */
  hostServices?: HostServices | undefined
  /**
   * Guest ports whose traffic is filtered against impersonation (libvirt's clean-traffic): frames must
   * carry the port's guest MAC, ARP and IPv4 sources must be the port's reserved address (or, for a port
   * without one, none of the other guests' reserved addresses), and no DHCP server or IPv6 router
   * replies may come from a guest. Rendered in a `bridge` table of the same name, in the same transaction.
   */
  portFilters?: readonly PortFilter[] | undefined
  /** 'routed': forward only to and from this ifname (default: any interface but the bridge). */
  routed?: { uplink?: string | undefined } | undefined
  forwards?: readonly PortForward[] | undefined
}

export interface PortFilter {
  /** The port's interface name (a tap). */
  port: string
  /** The guest's MAC. */
  mac: string
  /** The guest's reserved IPv4 address, if it has one: then the only IPv4 source it may use. */
  ipv4?: string | undefined
  /** Other guests' reserved addresses: a port without a reservation may use any address but these. */
  othersIpv4: readonly string[]
}

export type HostServices = 'all' | 'dhcp-dns' | readonly { proto: 'tcp' | 'udp'; port: number }[]

/** A DNAT port forward from the host to a guest. */
export interface PortForward {
  proto: 'tcp' | 'udp'
  /** A port or an inclusive [first, last] range. */
  hostPort: number | readonly [number, number]
  /** Guest IP inside the network's subnet (IPv4 or IPv6). */
  guest: string
  /** Default: same as hostPort. For a range, the first guest port; the range keeps its length. */
  guestPort?: number | undefined
  /** Only connections to this host address (default: any local address). */
  hostAddress?: string | undefined
  /** Only packets arriving on this interface (host-originated connections then are not forwarded). */
  inInterface?: string | undefined
}

/** A kvmnet table as found in the kernel. */
export interface InstalledNetworkRules {
  tag: string
  /** The table's name, kvmnet_<tag>. */
  table: string
  family: 'inet'
  chains: InstalledChain[]
  /** Rules in all chains. */
  ruleCount: number
  /** Port forwards recovered from the DNAT rules of the prerouting chain. */
  forwards: PortForward[]
  /** The chains of the bridge-family table of the same name (port filters), when read (Nft.get reads it). */
  bridgeChains?: InstalledChain[] | undefined
}

export interface InstalledChain {
  name: string
  type?: string | undefined
  hook?: string | undefined
  prio?: number | undefined
  policy?: string | undefined
  rules: number
}

/** A sysctl the rules depend on. `key` is in sysctl(8) form (dots inside an ifname written as '/'). */
export interface RequiredSysctl {
  key: string
  value: string
  /** The file under /proc/sys. */
  path: string
  /** Why the rules need it. */
  reason: string
}

/**
 * Where a network learns its guests' addresses from their own traffic (see learn.ts): a bridge-family
 * table on the bridge's ports, or (macvtap) a netdev-family table with an egress chain on each macvtap.
 */
export type AddressLearning =
  | {
      tag: string
      family: 'bridge'
      /**
       * The ports learned from (the network's taps: not the enslaved NIC, whose senders are the LAN's
       * hosts). Kept in a set of their own, so a port added or removed changes no rule.
       */
      ports: readonly string[]
      /** Seconds a learned address lives after the guest last used it. */
      timeout: number
    }
  | { tag: string; family: 'netdev'; devices: readonly string[]; timeout: number }

/** An address a guest used, as the learning sets hold it. */
export interface LearnedAddress {
  /** The port (tap or macvtap) the guest's frame came through. */
  ifname: string
  mac: string
  address: string
  family: 4 | 6
  /** Seconds until it ages out; the guest last used it `timeout - expires` seconds ago. */
  expires: number
  timeout: number
}
