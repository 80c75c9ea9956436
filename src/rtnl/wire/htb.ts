/**
 * HTB's option structs and the rate tables, computed the way iproute2's tc does (tc_core.c), so a class
 * kvmnet sets is byte for byte the one `tc class add … htb rate R ceil C burst B cburst CB` sets.
 *
 * Times are in psched ticks: the kernel's /proc/net/psched has said t2us=1000, us2t=64, clock_res=1e9
 * (nanosecond clock) since 2.6.x, which tc turns into 15.625 ticks per microsecond (1 tick = 64 ns).
 * Since Linux 3.8 HTB computes from the rate itself and reads the tables only when the linklayer is
 * unknown; they are sent anyway (linklayer ethernet set), as tc does, so older kernels get what they need.
 */
import { attr, nested } from './attrs.js'
import { TC_LINKLAYER_ETHERNET, TCA_HTB_CEIL64, TCA_HTB_CTAB, TCA_HTB_INIT, TCA_HTB_PARMS, TCA_HTB_RATE64, TCA_HTB_RTAB, TCA_OPTIONS } from './constants.js'

const TICKS_PER_USEC = 1000 / 64
const USEC_PER_SEC = 1e6
/** tc's default: the `hz` of /proc/net/psched on a nanosecond clock (its default burst is rate/hz + mtu). */
const PSCHED_HZ = 1e9
/** tc's assumed packet size for the tables and the default burst. */
export const HTB_MTU = 1600
const U32_MAX = 0xffffffff
const RATESPEC_LEN = 12
const HTB_OPT_LEN = 2 * RATESPEC_LEN + 20
const HTB_GLOB_LEN = 20
const HTB_VERSION = 3
const HTB_R2Q = 10

/**
 * Ticks to send `bytes` at `rate` bytes/s, as tc_calc_xmittime of iproute2 6.1 (Debian 12's): whole
 * microseconds, then whole ticks (later versions round up in doubles instead: less than a tick apart).
 */
export function xmitTime(rate: number, bytes: number): number {
  const usec = Math.min(Math.floor(USEC_PER_SEC * (bytes / rate)), U32_MAX)
  return Math.min(Math.floor(usec * TICKS_PER_USEC), U32_MAX)
}

/** Bytes sent in `ticks` at `rate` bytes/s (tc_calc_xmitsize): a class's burst as the kernel reports it. */
export function xmitSize(rate: number, ticks: number): number {
  return Math.floor((rate * Math.floor(ticks / TICKS_PER_USEC)) / USEC_PER_SEC)
}

function cellLog(mtu: number): number {
  let c = 0
  while (mtu >> c > 255) c++
  return c
}

/** struct tc_ratespec { u8 cell_log; u8 linklayer; u16 overhead; s16 cell_align; u16 mpu; u32 rate }. */
function rateSpec(rate: number, cell: number): Buffer {
  const b = Buffer.alloc(RATESPEC_LEN)
  b.writeUInt8(cell, 0)
  b.writeUInt8(TC_LINKLAYER_ETHERNET, 1)
  b.writeInt16LE(-1, 4)
  b.writeUInt32LE(Math.min(rate, U32_MAX), 8)
  return b
}

/** Tables made, by rate and cell: a network's ports mostly share their rates, and each table is 256 divisions. */
const tables = new Map<string, Buffer>()
const TABLES_KEPT = 64

/**
 * rtab[i] = ticks to send (i + 1) << cell_log bytes; computed with the u32 rate, as tc_calc_rtable does.
 * Shared between calls: read only (attr() copies it into the message).
 */
function rateTable(rate: number, cell: number): Buffer {
  const r = Math.min(rate, U32_MAX)
  const key = `${r}/${cell}`
  const kept = tables.get(key)
  if (kept) return kept
  const b = Buffer.alloc(256 * 4)
  for (let i = 0; i < 256; i++) b.writeUInt32LE(xmitTime(r, (i + 1) << cell), i * 4)
  if (tables.size >= TABLES_KEPT) tables.clear()
  tables.set(key, b)
  return b
}

export interface HtbClassParams {
  /** Guaranteed rate, bytes/s. */
  rate: number
  /** Rate it may borrow up to, bytes/s (default: rate). */
  ceil?: number | undefined
  /** Bytes it may send at once above rate (default, as tc: rate/hz + mtu). */
  burst?: number | undefined
  /** Bytes it may send at once above ceil (default, as tc: ceil/hz + mtu). */
  cburst?: number | undefined
}

/** TCA_OPTIONS of an HTB class: RATE64/CEIL64 when a rate passes 32 bits, PARMS, RTAB, CTAB. */
export function encodeHtbClassOptions(p: HtbClassParams): Buffer {
  const ceil = p.ceil ?? p.rate
  const cell = cellLog(HTB_MTU)
  const burst = p.burst ?? Math.floor(p.rate / PSCHED_HZ) + HTB_MTU
  const cburst = p.cburst ?? Math.floor(ceil / PSCHED_HZ) + HTB_MTU
  const opt = Buffer.alloc(HTB_OPT_LEN)
  rateSpec(p.rate, cell).copy(opt, 0)
  rateSpec(ceil, cell).copy(opt, RATESPEC_LEN)
  opt.writeUInt32LE(xmitTime(p.rate, burst), 2 * RATESPEC_LEN)
  opt.writeUInt32LE(xmitTime(ceil, cburst), 2 * RATESPEC_LEN + 4)
  // quantum 0 (the kernel derives it from rate and r2q), level 0, prio 0.
  const attrs: Buffer[] = []
  if (p.rate > U32_MAX) attrs.push(attr(TCA_HTB_RATE64, u64(p.rate)))
  if (ceil > U32_MAX) attrs.push(attr(TCA_HTB_CEIL64, u64(ceil)))
  attrs.push(attr(TCA_HTB_PARMS, opt), attr(TCA_HTB_RTAB, rateTable(p.rate, cell)), attr(TCA_HTB_CTAB, rateTable(ceil, cell)))
  return nested(TCA_OPTIONS, attrs)
}

/** TCA_OPTIONS of an HTB qdisc: struct tc_htb_glob { version 3, rate2quantum 10, defcls, debug, direct_pkts }. */
export function encodeHtbQdiscOptions(defaultClass: number): Buffer {
  const g = Buffer.alloc(HTB_GLOB_LEN)
  g.writeUInt32LE(HTB_VERSION, 0)
  g.writeUInt32LE(HTB_R2Q, 4)
  g.writeUInt32LE(defaultClass, 8)
  return nested(TCA_OPTIONS, [attr(TCA_HTB_INIT, g)])
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(Math.round(n)), 0)
  return b
}

export interface HtbClassInfo {
  rate: number
  ceil: number
  /** Bytes, as the kernel's ticks convert back (within a byte or so of what was asked). */
  burst: number
  cburst: number
  level: number
}

/** HTB class options from a dump (the payload of TCA_OPTIONS). */
export function decodeHtbClassOptions(opts: Map<number, Buffer>): HtbClassInfo | undefined {
  const parms = opts.get(TCA_HTB_PARMS)
  if (!parms || parms.length < HTB_OPT_LEN) return undefined
  const r64 = opts.get(TCA_HTB_RATE64)
  const c64 = opts.get(TCA_HTB_CEIL64)
  const rate = r64 && r64.length >= 8 ? Number(r64.readBigUInt64LE(0)) : parms.readUInt32LE(8)
  const ceil = c64 && c64.length >= 8 ? Number(c64.readBigUInt64LE(0)) : parms.readUInt32LE(RATESPEC_LEN + 8)
  return {
    rate,
    ceil,
    burst: xmitSize(rate, parms.readUInt32LE(2 * RATESPEC_LEN)),
    cburst: xmitSize(ceil, parms.readUInt32LE(2 * RATESPEC_LEN + 4)),
    level: parms.readUInt32LE(2 * RATESPEC_LEN + 12),
  }
}

/** The default class (minor) of an HTB qdisc from a dump. */
export function decodeHtbQdiscOptions(opts: Map<number, Buffer>): { defaultClass: number } | undefined {
  const g = opts.get(TCA_HTB_INIT)
  return g && g.length >= HTB_GLOB_LEN ? { defaultClass: g.readUInt32LE(8) } : undefined
}
