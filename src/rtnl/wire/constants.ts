/**
 * Numbers from the kernel's uapi headers (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h,
 * if_arp.h). Kept as plain consts so encoders read like the C they mirror.
 */

// linux/netlink.h
export const NETLINK_ROUTE = 0
export const SOL_NETLINK = 270
export const NETLINK_ADD_MEMBERSHIP = 1
export const NETLINK_DROP_MEMBERSHIP = 2
export const NETLINK_CAP_ACK = 10
export const NETLINK_EXT_ACK = 11
export const NETLINK_GET_STRICT_CHK = 12
export const SOL_SOCKET = 1
export const SO_SNDBUF = 7
export const SO_RCVBUF = 8
export const SO_SNDBUFFORCE = 32
export const SO_RCVBUFFORCE = 33

export const NLMSG_HDRLEN = 16
export const NLA_HDRLEN = 4
export const NLA_F_NESTED = 1 << 15
export const NLA_F_NET_BYTEORDER = 1 << 14
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff

export const NLMSG_NOOP = 1
export const NLMSG_ERROR = 2
export const NLMSG_DONE = 3
export const NLMSG_OVERRUN = 4

export const NLM_F_REQUEST = 0x01
export const NLM_F_MULTI = 0x02
export const NLM_F_ACK = 0x04
export const NLM_F_ECHO = 0x08
export const NLM_F_DUMP_INTR = 0x10
export const NLM_F_DUMP_FILTERED = 0x20
export const NLM_F_ROOT = 0x100
export const NLM_F_MATCH = 0x200
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
export const NLM_F_REPLACE = 0x100
export const NLM_F_EXCL = 0x200
export const NLM_F_CREATE = 0x400
export const NLM_F_APPEND = 0x800
// Flags of an NLMSG_ERROR ack.
export const NLM_F_CAPPED = 0x100
export const NLM_F_ACK_TLVS = 0x200

export const NLMSGERR_ATTR_MSG = 1
export const NLMSGERR_ATTR_OFFS = 2
export const NLMSGERR_ATTR_COOKIE = 3

// linux/rtnetlink.h
export const RTM_NEWLINK = 16
export const RTM_DELLINK = 17
export const RTM_GETLINK = 18
export const RTM_SETLINK = 19
export const RTM_NEWADDR = 20
export const RTM_DELADDR = 21
export const RTM_GETADDR = 22
export const RTM_NEWROUTE = 24
export const RTM_DELROUTE = 25
export const RTM_GETROUTE = 26
export const RTM_NEWNEIGH = 28
export const RTM_DELNEIGH = 29
export const RTM_GETNEIGH = 30

export const RTM_NAMES: Readonly<Record<number, string>> = {
  [RTM_NEWLINK]: 'RTM_NEWLINK',
  [RTM_DELLINK]: 'RTM_DELLINK',
  [RTM_GETLINK]: 'RTM_GETLINK',
  [RTM_SETLINK]: 'RTM_SETLINK',
  [RTM_NEWADDR]: 'RTM_NEWADDR',
  [RTM_DELADDR]: 'RTM_DELADDR',
  [RTM_GETADDR]: 'RTM_GETADDR',
  [RTM_NEWROUTE]: 'RTM_NEWROUTE',
  [RTM_DELROUTE]: 'RTM_DELROUTE',
  [RTM_GETROUTE]: 'RTM_GETROUTE',
  [RTM_NEWNEIGH]: 'RTM_NEWNEIGH',
  [RTM_DELNEIGH]: 'RTM_DELNEIGH',
  [RTM_GETNEIGH]: 'RTM_GETNEIGH',
  36: 'RTM_NEWQDISC',
  37: 'RTM_DELQDISC',
  38: 'RTM_GETQDISC',
  40: 'RTM_NEWTCLASS',
  41: 'RTM_DELTCLASS',
  42: 'RTM_GETTCLASS',
  44: 'RTM_NEWTFILTER',
  45: 'RTM_DELTFILTER',
  46: 'RTM_GETTFILTER',
}

export const AF_UNSPEC = 0
export const AF_INET = 2
export const AF_INET6 = 10
export const AF_BRIDGE = 7

// linux/if.h
export const IFF_UP = 0x1
export const IFF_BROADCAST = 0x2
export const IFF_LOOPBACK = 0x8
export const IFF_POINTOPOINT = 0x10
export const IFF_RUNNING = 0x40
export const IFF_NOARP = 0x80
export const IFF_PROMISC = 0x100
export const IFF_MULTICAST = 0x1000
export const IFF_LOWER_UP = 0x10000

// linux/if_link.h
export const IFLA_ADDRESS = 1
export const IFLA_BROADCAST = 2
export const IFLA_IFNAME = 3
export const IFLA_MTU = 4
export const IFLA_LINK = 5
export const IFLA_MASTER = 10
export const IFLA_TXQLEN = 13
export const IFLA_OPERSTATE = 16
export const IFLA_LINKMODE = 17
export const IFLA_LINKINFO = 18
export const IFLA_NET_NS_PID = 19
export const IFLA_IFALIAS = 20
export const IFLA_GROUP = 27
export const IFLA_AF_SPEC = 26
export const IFLA_NET_NS_FD = 28
export const IFLA_EXT_MASK = 29
export const IFLA_PROMISCUITY = 30
export const IFLA_NUM_TX_QUEUES = 31
export const IFLA_NUM_RX_QUEUES = 32
export const IFLA_CARRIER = 33
export const IFLA_LINK_NETNSID = 37
export const IFLA_MIN_MTU = 50
export const IFLA_MAX_MTU = 51
export const IFLA_PERM_ADDRESS = 54

export const IFLA_INFO_KIND = 1

// IFLA_AF_SPEC's AF_INET6 part (linux/if_link.h)
export const IFLA_INET6_ADDR_GEN_MODE = 8
export const IFLA_INFO_DATA = 2
export const IFLA_INFO_SLAVE_KIND = 4

export const IFLA_BR_FORWARD_DELAY = 1
export const IFLA_BR_STP_STATE = 5
export const IFLA_BR_VLAN_FILTERING = 7

export const VETH_INFO_PEER = 1

export const IFLA_MACVLAN_MODE = 1
export const MACVLAN_MODE_PRIVATE = 1
export const MACVLAN_MODE_VEPA = 2
export const MACVLAN_MODE_BRIDGE = 4
export const MACVLAN_MODE_PASSTHRU = 8
export const MACVLAN_MODE_SOURCE = 16

export const IFLA_VXLAN_ID = 1
export const IFLA_VXLAN_GROUP = 2
export const IFLA_VXLAN_LINK = 3
export const IFLA_VXLAN_LOCAL = 4
export const IFLA_VXLAN_LEARNING = 7
export const IFLA_VXLAN_PORT = 15
export const IFLA_VXLAN_GROUP6 = 16
export const IFLA_VXLAN_LOCAL6 = 17

export const IFLA_TUN_OWNER = 1
export const IFLA_TUN_GROUP = 2
export const IFLA_TUN_TYPE = 3
export const IFLA_TUN_PI = 4
export const IFLA_TUN_VNET_HDR = 5
export const IFLA_TUN_PERSIST = 6
export const IFLA_TUN_MULTI_QUEUE = 7
export const IFLA_TUN_NUM_QUEUES = 8

/** Skip the (large) per-link statistics in GETLINK replies: nothing here reads them. */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3

// linux/if_addr.h
export const IFA_ADDRESS = 1
export const IFA_LOCAL = 2
export const IFA_LABEL = 3
export const IFA_BROADCAST = 4
export const IFA_CACHEINFO = 6
export const IFA_FLAGS = 8
export const IFA_F_SECONDARY = 0x01
export const IFA_F_NODAD = 0x02
export const IFA_F_PERMANENT = 0x80
export const IFA_F_NOPREFIXROUTE = 0x200

// linux/neighbour.h: neighbour and FDB entries (RTM_*NEIGH)
export const NDA_DST = 1
export const NDA_LLADDR = 2
export const NDA_PORT = 6
export const NDA_VNI = 7
export const NDA_IFINDEX = 8
export const NDA_MASTER = 9
export const NDA_SRC_VNI = 11
export const NTF_SELF = 0x02
export const NTF_MASTER = 0x04
export const NTF_EXT_LEARNED = 0x10
export const NUD_REACHABLE = 0x02
export const NUD_NOARP = 0x40
export const NUD_PERMANENT = 0x80

// linux/rtnetlink.h: routes
export const RTA_DST = 1
export const RTA_SRC = 2
export const RTA_IIF = 3
export const RTA_OIF = 4
export const RTA_GATEWAY = 5
export const RTA_PRIORITY = 6
export const RTA_PREFSRC = 7
export const RTA_TABLE = 15

export const RT_TABLE_UNSPEC = 0
export const RT_TABLE_MAIN = 254
export const RT_TABLE_LOCAL = 255

export const RT_SCOPE_UNIVERSE = 0
export const RT_SCOPE_SITE = 200
export const RT_SCOPE_LINK = 253
export const RT_SCOPE_HOST = 254
export const RT_SCOPE_NOWHERE = 255

export const RTPROT_UNSPEC = 0
export const RTPROT_KERNEL = 2
export const RTPROT_BOOT = 3
export const RTPROT_STATIC = 4

export const ROUTE_TYPES = [
  'unspec',
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
  'xresolve',
] as const
export type RouteType = (typeof ROUTE_TYPES)[number]

// linux/if.h operstates (RFC 2863)
export const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const
export type OperState = (typeof OPER_STATES)[number]

// linux/rtnetlink.h, pkt_sched.h, pkt_cls.h, tc_act/tc_mirred.h: traffic control
export const RTM_NEWQDISC = 36
export const RTM_DELQDISC = 37
export const RTM_GETQDISC = 38
export const RTM_NEWTCLASS = 40
export const RTM_DELTCLASS = 41
export const RTM_GETTCLASS = 42
export const RTM_NEWTFILTER = 44
export const RTM_DELTFILTER = 45
export const RTM_GETTFILTER = 46


export const TC_H_ROOT = 0xffffffff
export const TC_H_INGRESS = 0xfffffff1
/** The ingress qdisc's handle (ffff:), which is also the parent of its filters. */
export const TC_H_INGRESS_HANDLE = 0xffff0000
export const ETH_P_ALL = 0x0003

export const TCA_KIND = 1
export const TCA_OPTIONS = 2

export const TCA_HTB_PARMS = 1
export const TCA_HTB_INIT = 2
export const TCA_HTB_CTAB = 3
export const TCA_HTB_RTAB = 4
export const TCA_HTB_DIRECT_QLEN = 5
export const TCA_HTB_RATE64 = 6
export const TCA_HTB_CEIL64 = 7

export const TCA_U32_CLASSID = 1
export const TCA_U32_SEL = 5
export const TCA_U32_ACT = 7
export const TC_U32_TERMINAL = 1

export const TCA_ACT_KIND = 1
export const TCA_ACT_OPTIONS = 2
export const TCA_MIRRED_PARMS = 2
export const TCA_EGRESS_REDIR = 1
export const TC_ACT_STOLEN = 4
export const TC_LINKLAYER_ETHERNET = 1
