/**
 * The u32 classifier's selector (struct tc_u32_sel with its keys) and the mirred action, as tc's f_u32.c
 * and m_mirred.c pack them. Only what kvmnet uses: match everything, or match a MAC address in the
 * Ethernet header (offsets relative to the network header, so the header is at -14), then either
 * classify (flowid) or redirect to another device's egress.
 */
import { attr, attrMap, attrString, attrU32, nested, parseAttrs, readString, readU32 } from './attrs.js'
import {
  NLA_F_NESTED,
  TC_ACT_STOLEN,
  TC_U32_TERMINAL,
  TCA_ACT_KIND,
  TCA_ACT_OPTIONS,
  TCA_EGRESS_REDIR,
  TCA_MIRRED_PARMS,
  TCA_U32_ACT,
  TCA_U32_CLASSID,
  TCA_U32_SEL,
} from './constants.js'

/** struct tc_u32_key { be32 mask; be32 val; s32 off; s32 offmask }. */
export interface U32Key {
  mask: number
  val: number
  off: number
}

const SEL_HEADER_LEN = 16
const KEY_LEN = 16
const MIRRED_PARMS_LEN = 28

/** What a kvmnet u32 filter matches: every packet, or frames to / from one MAC address. */
export type U32Match = { all: true } | { dstMac: string } | { srcMac: string }

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))
}

/**
 * Keys as tc packs `match u16 … at -14 match u32 … at -12` (destination) or `match u32 … at -8 match
 * u16 … at -4` (source): a u16 at an offset not on a 4-byte boundary sits in the low half of its word.
 */
export function u32Keys(m: U32Match): U32Key[] {
  if ('all' in m) return [{ mask: 0, val: 0, off: 0 }]
  const b = macBytes('dstMac' in m ? m.dstMac : m.srcMac)
  if ('dstMac' in m)
    return [
      { mask: 0x0000ffff, val: b.readUInt16BE(0), off: -16 },
      { mask: 0xffffffff, val: b.readUInt32BE(2), off: -12 },
    ]
  return [
    { mask: 0xffffffff, val: b.readUInt32BE(0), off: -8 },
    { mask: 0xffff0000, val: (b.readUInt16BE(4) << 16) >>> 0, off: -4 },
  ]
}

export function encodeU32Sel(keys: readonly U32Key[]): Buffer {
  const b = Buffer.alloc(SEL_HEADER_LEN + KEY_LEN * keys.length)
  b.writeUInt8(TC_U32_TERMINAL, 0)
  b.writeUInt8(keys.length, 2)
  keys.forEach((k, i) => {
    const o = SEL_HEADER_LEN + i * KEY_LEN
    b.writeUInt32BE(k.mask >>> 0, o)
    b.writeUInt32BE(k.val >>> 0, o + 4)
    b.writeInt32LE(k.off, o + 8)
  })
  return b
}

export function decodeU32Sel(b: Buffer): U32Key[] {
  const n = b.length >= SEL_HEADER_LEN ? b.readUInt8(2) : 0
  const keys: U32Key[] = []
  for (let i = 0; i < n && SEL_HEADER_LEN + (i + 1) * KEY_LEN <= b.length; i++) {
    const o = SEL_HEADER_LEN + i * KEY_LEN
    keys.push({ mask: b.readUInt32BE(o), val: b.readUInt32BE(o + 4), off: b.readInt32LE(o + 8) })
  }
  return keys
}

/** The match the keys spell, when they are one kvmnet writes (else undefined). */
export function u32MatchOf(keys: readonly U32Key[]): U32Match | undefined {
  const same = (m: U32Match): boolean => {
    const want = u32Keys(m)
    return want.length === keys.length && want.every((k, i) => k.mask === keys[i]!.mask && ((k.val ^ keys[i]!.val) & k.mask) === 0 && k.off === keys[i]!.off)
  }
  if (same({ all: true })) return { all: true }
  const hex = (n: number, bytes: number): string[] => Array.from({ length: bytes }, (_, i) => ((n >>> (8 * (bytes - 1 - i))) & 0xff).toString(16).padStart(2, '0'))
  if (keys.length === 2 && keys[0]!.off === -16) {
    const dstMac = [...hex(keys[0]!.val & 0xffff, 2), ...hex(keys[1]!.val, 4)].join(':')
    return same({ dstMac }) ? { dstMac } : undefined
  }
  if (keys.length === 2 && keys[0]!.off === -8) {
    const srcMac = [...hex(keys[0]!.val, 4), ...hex(keys[1]!.val >>> 16, 2)].join(':')
    return same({ srcMac }) ? { srcMac } : undefined
  }
  return undefined
}

/** TCA_U32_ACT: one mirred action, redirect to the egress of `ifindex` (tc: action mirred egress redirect dev X). */
export function encodeMirredRedirect(ifindex: number): Buffer {
  const p = Buffer.alloc(MIRRED_PARMS_LEN)
  // struct tc_mirred { tc_gen: index, capab, action, refcnt, bindcnt; eaction; ifindex }
  p.writeInt32LE(TC_ACT_STOLEN, 8)
  p.writeInt32LE(TCA_EGRESS_REDIR, 20)
  p.writeUInt32LE(ifindex, 24)
  const act = [attrString(TCA_ACT_KIND, 'mirred'), nested(TCA_ACT_OPTIONS | NLA_F_NESTED, [attr(TCA_MIRRED_PARMS, p)])]
  return nested(TCA_U32_ACT, [nested(1, act)])
}

/** The ifindex a mirred egress redirect among a filter's actions sends to. */
export function decodeMirredRedirect(actData: Buffer): number | undefined {
  for (const a of parseAttrs(actData)) {
    const m = attrMap(a.data)
    if (readString(m.get(TCA_ACT_KIND)) !== 'mirred') continue
    const opts = m.get(TCA_ACT_OPTIONS)
    const p = opts ? attrMap(opts).get(TCA_MIRRED_PARMS) : undefined
    if (p && p.length >= MIRRED_PARMS_LEN && p.readInt32LE(20) === TCA_EGRESS_REDIR) return p.readUInt32LE(24)
  }
  return undefined
}
