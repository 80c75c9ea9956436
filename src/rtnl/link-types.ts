/** What callers say about links (specs, changes) and what they get back (LinkInfo). */
import type { NetnsRef } from '../netns/index.js'
import type { OperState } from './wire/constants.js'

/** A link named by IFLA_IFNAME or by ifindex. */
export type LinkRef = string | number

export type MacvlanMode = 'bridge' | 'vepa' | 'private' | 'passthru' | 'source'

/** Attributes every kind accepts. */
export interface LinkCommon {
  /** Interface name, at most 15 bytes (IFNAMSIZ - 1). */
  name: string
  mtu?: number
  mac?: string
  /** Bridge to enslave the new link to. */
  master?: LinkRef
  /** Link group (u32), as in `ip link set group N`; used to delete many links in one request. */
  group?: number
  /** IFLA_IFALIAS, at most 255 bytes. */
  alias?: string
  up?: boolean
  /**
   * See LinkChange.addrGenMode. The kernel refuses it in a create (EAFNOSUPPORT), so it goes with the
   * alias in the request right after: a link made up without carrier (a veth whose peer is still down)
   * has no link-local address by then.
   */
  addrGenMode?: AddrGenMode
}

export interface BridgeSpec extends LinkCommon {
  kind: 'bridge'
  stp?: boolean
  /** Seconds (the kernel takes clock_t, i.e. 1/100 s). With STP on the kernel allows 2..30. */
  forwardDelay?: number
  vlanFiltering?: boolean
}

export interface VethSpec extends LinkCommon {
  kind: 'veth'
  peer: {
    name: string
    /** Namespace the peer end is created in (default: the same as this end). */
    netns?: NetnsRef
    mac?: string
  }
}

/** A persistent tap created through src/tap (TUNSETIFF + TUNSETPERSIST); the rest is set over netlink. */
export interface TapSpec extends LinkCommon {
  kind: 'tap'
  /** uid allowed to attach to the tap (TUNSETOWNER). */
  owner?: number
  /** gid allowed to attach to the tap (TUNSETGROUP); named so as not to clash with the link group. */
  ownerGroup?: number
  queues?: number
  vnetHdr?: boolean
}

export interface MacvlanSpec extends LinkCommon {
  kind: 'macvlan' | 'macvtap'
  /** The lower device, by name or ifindex. */
  parent: LinkRef
  /** Default: the kernel's (vepa). */
  mode?: MacvlanMode
}

export interface VxlanSpec extends LinkCommon {
  kind: 'vxlan'
  /** 24-bit VXLAN network identifier. */
  vni: number
  local?: string
  /** Unicast remote VTEP (IFLA_VXLAN_GROUP with a unicast address); exclusive with multicastGroup. */
  remote?: string
  /** Multicast group for BUM traffic (IFLA_VXLAN_GROUP); needs `parent`. */
  multicastGroup?: string
  /** UDP destination port; default 4789 (IANA), not the kernel's legacy 8472. */
  port?: number
  /** Underlay device (IFLA_VXLAN_LINK). */
  parent?: LinkRef
  /**
   * IFLA_VXLAN_LEARNING: learn remote MACs from the outer source of received frames (the kernel's default
   * for a new device is on; given, it is sent either way).
   */
  learning?: boolean
}

/** An intermediate functional block: what a tc mirred redirect sends packets to, to be shaped on its egress. */
export interface IfbSpec extends LinkCommon {
  kind: 'ifb'
  /** IFLA_TXQLEN: the kernel's default for an IFB is 32 packets, too short a queue to hold a shaped upload's rate. */
  txQueueLen?: number
}

export type LinkSpec = BridgeSpec | VethSpec | TapSpec | MacvlanSpec | VxlanSpec | IfbSpec
export type LinkKind = LinkSpec['kind']
export const LINK_KINDS: readonly LinkKind[] = ['bridge', 'veth', 'tap', 'macvlan', 'macvtap', 'vxlan', 'ifb']

export interface LinkChange {
  up?: boolean
  mtu?: number
  mac?: string
  /** A bridge to enslave to; null releases the link from its master (nomaster). */
  master?: LinkRef | null
  alias?: string
  group?: number
  /** Rename (the link must be down). */
  name?: string
  /** Move to another namespace. */
  netns?: NetnsRef
  /**
   * How the kernel makes the link's IPv6 link-local address (iproute2's `addrgenmode`): 'none' gives it
   * none, so a bridge port carries no address of the host's. Refused (EAFNOSUPPORT) where the kernel has
   * no IPv6 or the link's MTU is under 1280.
   */
  addrGenMode?: AddrGenMode
}

export const ADDR_GEN_MODES = ['eui64', 'none', 'stable-privacy', 'random'] as const
export type AddrGenMode = (typeof ADDR_GEN_MODES)[number]

export interface LinkFilter {
  master?: LinkRef
  kind?: string
  group?: number
  /**
   * Only links matching at least one of these: a name, an alias, the group. Checked on the raw dump
   * before anything is decoded, so a namespace's other links (a thousand, for a network's ten) cost no
   * objects.
   */
  anyOf?: LinkSelection
}

export interface LinkSelection {
  names?: ReadonlySet<string>
  aliases?: ReadonlySet<string>
  group?: number
}

export interface BridgeData {
  stp: boolean
  /** Seconds. */
  forwardDelay: number
  vlanFiltering: boolean
}

export interface MacvlanData {
  mode: MacvlanMode | number
}

export interface VxlanData {
  vni: number
  port?: number | undefined
  local?: string | undefined
  remote?: string | undefined
  multicastGroup?: string | undefined
  parent?: number | undefined
  learning?: boolean | undefined
}

export interface TunData {
  type: 'tun' | 'tap'
  owner?: number | undefined
  group?: number | undefined
  persist: boolean
  vnetHdr: boolean
  multiQueue: boolean
  queues?: number | undefined
}

export interface LinkInfo {
  index: number
  name: string
  /** IFLA_INFO_KIND: 'bridge', 'veth', 'tun' (taps), 'macvlan', 'macvtap', 'vxlan'; undefined for physical NICs and lo. */
  kind: string | undefined
  mtu: number
  mac: string | undefined
  /** IFF_* flags. */
  flags: number
  /** Administratively up (IFF_UP). */
  up: boolean
  operState: OperState
  /** ifindex of the bridge this link is enslaved to. */
  master: number | undefined
  group: number
  alias: string | undefined
  /** IFLA_LINK: the lower device (macvlan parent, veth peer), possibly in another namespace (see linkNetnsid). */
  parent: number | undefined
  /** IFLA_LINK_NETNSID: the namespace `parent` lives in, as this namespace's nsid for it. */
  linkNetnsid: number | undefined
  /** Slave kind when enslaved, e.g. 'bridge'. */
  slaveKind: string | undefined
  /** macvtap: the character device QEMU opens. */
  tapDevice?: string | undefined
  /** How the kernel makes the link's IPv6 link-local address (IFLA_AF_SPEC); undefined without IPv6 on it. */
  addrGenMode?: AddrGenMode | undefined
  bridge?: BridgeData | undefined
  macvlan?: MacvlanData | undefined
  vxlan?: VxlanData | undefined
  tun?: TunData | undefined
}
