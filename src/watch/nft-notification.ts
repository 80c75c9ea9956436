/**
 * What an nf_tables notification (multicast group NFNLGRP_NFTABLES of NETLINK_NETFILTER) says: which
 * object of which table was added or deleted, or — NFT_MSG_NEWGEN, sent once at the end of every
 * committed batch — that a transaction is complete, and by which process.
 *
 * Every nf_tables object message carries its table's name as attribute 1 (NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, ...), after the 4-byte struct nfgenmsg whose first
 * byte is the family. `nft flush ruleset` arrives as DELRULE/DELCHAIN/DELSET/.../DELTABLE for every object.
 */
import { attrMap, readString } from '../rtnl/index.js'
import { NLM_F_ACK, NLM_F_REQUEST } from '../rtnl/index.js'
import { encodeMessage } from '../rtnl/index.js'
import { NFNL_SUBSYS_NFTABLES, nfgenmsg } from '../nft/index.js'

export { NETLINK_NETFILTER, NFNLGRP_NFTABLES, NFPROTO } from '../nft/index.js'

export type NftObject = 'table' | 'chain' | 'rule' | 'set' | 'setelem' | 'obj' | 'flowtable'

/** NFT_MSG_* → what it changes. The DESTROY* types (kernel 6.3+) delete like DEL*. */
const OBJECT_MESSAGES: Readonly<Record<number, readonly [NftObject, 'new' | 'del']>> = {
  0: ['table', 'new'],
  2: ['table', 'del'],
  3: ['chain', 'new'],
  5: ['chain', 'del'],
  6: ['rule', 'new'],
  8: ['rule', 'del'],
  9: ['set', 'new'],
  11: ['set', 'del'],
  12: ['setelem', 'new'],
  14: ['setelem', 'del'],
  18: ['obj', 'new'],
  20: ['obj', 'del'],
  22: ['flowtable', 'new'],
  24: ['flowtable', 'del'],
  26: ['table', 'del'],
  27: ['chain', 'del'],
  28: ['rule', 'del'],
  29: ['set', 'del'],
  30: ['setelem', 'del'],
  31: ['obj', 'del'],
  32: ['flowtable', 'del'],
}
const NFT_MSG_NEWGEN = 15
const NFT_MSG_GETGEN = 16
const NFGENMSG_LEN = 4
const NFTA_GEN_ID = 1
const NFTA_GEN_PROC_PID = 2
const NFTA_GEN_PROC_NAME = 3

export type NftNotification =
  | { kind: 'object'; op: 'new' | 'del'; object: NftObject; family: number; table: string }
  /** The end of one committed transaction (generation `gen`), made by process `pid` named `proc`. */
  | { kind: 'gen'; gen: number | undefined; pid: number | undefined; proc: string | undefined }

/** Decodes one notification; undefined for other subsystems and message types it has no use for. */
export function decodeNftNotification(type: number, payload: Buffer): NftNotification | undefined {
  if (type >> 8 !== NFNL_SUBSYS_NFTABLES || payload.length < NFGENMSG_LEN) return undefined
  const msg = type & 0xff
  const a = attrMap(payload, NFGENMSG_LEN)
  if (msg === NFT_MSG_NEWGEN) {
    // Generation attributes are big-endian (NLA_F_NET_BYTEORDER in spirit; nf_tables writes htonl).
    const be32 = (b: Buffer | undefined) => (b && b.length >= 4 ? b.readUInt32BE(0) : undefined)
    return { kind: 'gen', gen: be32(a.get(NFTA_GEN_ID)), pid: be32(a.get(NFTA_GEN_PROC_PID)), proc: readString(a.get(NFTA_GEN_PROC_NAME)) }
  }
  const known = OBJECT_MESSAGES[msg]
  const table = readString(a.get(1))
  if (!known || table === undefined) return undefined
  return { kind: 'object', op: known[1], object: known[0], family: payload.readUInt8(0), table }
}

/** NFT_MSG_GETGEN (family unspecified): answered with the current generation, then an ack. */
export function encodeGetGen(): Buffer {
  return encodeMessage((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, NLM_F_REQUEST | NLM_F_ACK, [nfgenmsg(0)])
}
