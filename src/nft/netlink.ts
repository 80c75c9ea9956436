/**
 * nf_tables over netlink: the constants every kvmnet piece that talks to nf_tables directly shares (the
 * table lookup, the chain dump, the change notifications), from linux/netfilter/nfnetlink.h and
 * linux/netfilter.h.
 */

/** The netlink protocol of netfilter (NETLINK_NETFILTER). */
export const NETLINK_NETFILTER = 12
/** nfnetlink subsystem of nf_tables: the high byte of every nf_tables message type. */
export const NFNL_SUBSYS_NFTABLES = 10
/** The multicast group nf_tables announces its changes on. */
export const NFNLGRP_NFTABLES = 7

/** NFPROTO_* values of nfgenmsg.nfgen_family, by nft's family names. */
export const NFPROTO = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 } as const

/** nft's name of an NFPROTO_* family (or its number, for one nft has no name for). */
export function nfprotoName(family: number): string | undefined {
  return Object.entries(NFPROTO).find(([, v]) => v === family)?.[0]
}

/** struct nfgenmsg { u8 nfgen_family; u8 version; __be16 res_id; } for `family`. */
export function nfgenmsg(family: number): Buffer {
  return Buffer.from([family, 0, 0, 0])
}
