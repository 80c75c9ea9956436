/**
 * A learning table's addresses read from nf_tables over netlink (NFT_MSG_GETSETELEM dumps of its two
 * sets) instead of through nft: `nft -j list set` formats every element as JSON and kvmnet parsed it back,
 * ~10 ms per set of 1000 and the two listings one after the other on libnftables' thread; the dump is
 * ~30 bytes of key per element and decodes in well under a millisecond. The result is what parseLearned
 * makes of nft's listing (learn.ts): the same ifname, lower-case MAC, address text (inet_ntop's), expiry
 * in whole seconds, and the set's timeout.
 */
import type { NetnsRef } from '../netns/index.js'
import { AttrIndex, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, RtnlSocket, attrString, encodeMessage, parseAttrs } from '../rtnl/index.js'
import { isNotFound } from '../errors.js'
import { ipv6Text } from '../util/index.js'
import type { LearnedAddress } from './model.js'
import { NETLINK_NETFILTER, NFNL_SUBSYS_NFTABLES, NFPROTO, nfgenmsg } from './netlink.js'
import { encodeGetTable } from './table-exists.js'

const NFT_MSG_GETSET = 10
const NFT_MSG_GETSETELEM = 13
const NFTA_SET_TABLE = 1
const NFTA_SET_NAME = 2
const NFTA_SET_TIMEOUT = 11
const NFTA_SET_ELEM_LIST_TABLE = 1
const NFTA_SET_ELEM_LIST_SET = 2
const NFTA_SET_ELEM_LIST_ELEMENTS = 3
const NFTA_SET_ELEM_KEY = 1
const NFTA_SET_ELEM_EXPIRATION = 5
const NFTA_DATA_VALUE = 1
/** nfgenmsg before the attributes of every nf_tables message. */
const NFGENMSG_LEN = 4
/** Each field of a concatenation takes whole 32-bit registers: ifname 16 bytes, a MAC 6 (+2), then the address. */
const IFNAME_LEN = 16
const MAC_AT = 16
const ADDR_AT = 24

type SetName = 'v4' | 'v6'

/** NFT_MSG_GETSET of one set (pure; unit-tested against known bytes): its reply carries the set's timeout. */
export function encodeGetSet(family: keyof typeof NFPROTO, table: string, set: string): Buffer {
  return encodeMessage((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSET, NLM_F_REQUEST | NLM_F_ACK, [nfgenmsg(NFPROTO[family]), attrString(NFTA_SET_TABLE, table), attrString(NFTA_SET_NAME, set)])
}

/** The dump of one set's elements (pure; unit-tested against known bytes). */
export function encodeDumpSetElems(family: keyof typeof NFPROTO, table: string, set: string): Buffer {
  return encodeMessage((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, [
    nfgenmsg(NFPROTO[family]),
    attrString(NFTA_SET_ELEM_LIST_TABLE, table),
    attrString(NFTA_SET_ELEM_LIST_SET, set),
  ])
}

/** The set's timeout in whole seconds, as nft lists it (0 when it has none). */
export function decodeSetTimeout(payload: Buffer): number {
  const t = new AttrIndex(payload, NFGENMSG_LEN).get(NFTA_SET_TIMEOUT)
  return t && t.length >= 8 ? Math.floor(Number(t.readBigUInt64BE(0)) / 1000) : 0
}


const hex2 = (b: number): string => (b < 16 ? '0' : '') + b.toString(16)

type Keyed = { key: Buffer; entry: LearnedAddress }

/** The elements of one NFT_MSG_NEWSETELEM message of a learning set's dump, each with its key. */
function keyedElems(payload: Buffer, family: 4 | 6, timeout: number): Keyed[] {
  const list = new AttrIndex(payload, NFGENMSG_LEN).get(NFTA_SET_ELEM_LIST_ELEMENTS)
  if (!list) return []
  const out: Keyed[] = []
  const keyLen = ADDR_AT + (family === 4 ? 4 : 16)
  for (const item of parseAttrs(list)) {
    const e = new AttrIndex(item.data)
    const key = e.nested(NFTA_SET_ELEM_KEY)?.get(NFTA_DATA_VALUE)
    if (!key || key.length < keyLen) continue
    const nul = key.indexOf(0)
    const ifname = key.toString('utf8', 0, nul === -1 || nul > IFNAME_LEN ? IFNAME_LEN : nul)
    const mac = [0, 1, 2, 3, 4, 5].map((i) => hex2(key[MAC_AT + i]!)).join(':')
    const address = family === 4 ? `${key[ADDR_AT]}.${key[ADDR_AT + 1]}.${key[ADDR_AT + 2]}.${key[ADDR_AT + 3]}` : ipv6Text(key, ADDR_AT, true)
    const exp = e.get(NFTA_SET_ELEM_EXPIRATION)
    // nft lists an element without expiry (or with none left) with the set's timeout.
    const ms = exp && exp.length >= 8 ? Number(exp.readBigUInt64BE(0)) : 0
    out.push({ key, entry: { ifname, mac, address, family, expires: ms > 0 ? Math.floor(ms / 1000) : timeout, timeout } })
  }
  return out
}

/**
 * nft's order of a set's elements: it sorts them by the whole key read as one host-order (little-endian)
 * number, i.e. compared from the last byte back. It matters where one port shows an address under two
 * MACs: mergeAddresses keeps the first.
 */
function nftOrder(a: Keyed, b: Keyed): number {
  for (let i = Math.max(a.key.length, b.key.length) - 1; i >= 0; i--) {
    const d = (a.key[i] ?? 0) - (b.key[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** The elements of a learning set's dump (its NFT_MSG_NEWSETELEM messages) as parseLearned lists them. */
export function decodeLearned(payloads: readonly Buffer[], family: 4 | 6, timeout: number): LearnedAddress[] {
  return payloads
    .flatMap((p) => keyedElems(p, family, timeout))
    .sort(nftOrder)
    .map((k) => k.entry)
}

/**
 * What a network's learning table of `family` holds: [] when there is no such table; a set missing from
 * a table that is there is an error (the table is not one kvmnet made whole).
 */
export async function readLearned(ns: NetnsRef | undefined, family: 'bridge' | 'netdev', table: string): Promise<LearnedAddress[]> {
  const sock = RtnlSocket.open(ns, NETLINK_NETFILTER)
  try {
    const sets: SetName[] = ['v4', 'v6']
    // One datagram: the table, then each set's timeout.
    const [hasTable, ...timeouts] = await Promise.all([
      sock.request(encodeGetTable(table, family), { op: 'NFT_MSG_GETTABLE', object: table }).then(
        () => true,
        (err: unknown) => {
          if (isNotFound(err)) return false
          throw err
        },
      ),
      ...sets.map((s) =>
        sock.request(encodeGetSet(family, table, s), { op: 'NFT_MSG_GETSET', object: `${table} ${s}` }).then(
          (r) => (r[0] ? decodeSetTimeout(r[0].payload) : 0),
          (err: unknown) => err as Error,
        ),
      ),
    ])
    if (!hasTable) return []
    const out: LearnedAddress[] = []
    for (const [i, s] of sets.entries()) {
      const timeout = timeouts[i]!
      if (timeout instanceof Error) throw timeout
      const replies = await sock.dump(encodeDumpSetElems(family, table, s), { op: 'NFT_MSG_GETSETELEM', object: `${table} ${s}` })
      out.push(...decodeLearned(replies.map((r) => r.payload), s === 'v4' ? 4 : 6, timeout))
    }
    return out
  } finally {
    sock.close()
  }
}
