/**
 * RTM_*QDISC / RTM_*TCLASS / RTM_*TFILTER requests for what kvmnet shapes with (root HTB, ingress, HTB
 * classes, u32 filters with a flowid or a mirred redirect), and decoders for their dumps. The requests are
 * those `tc qdisc replace`, `tc class replace` and `tc filter replace` send, byte for byte.
 */
import { AttrIndex, attr, attrMap, attrString, attrU32, nested, readString, readU32 } from './wire/attrs.js'
import {
  ETH_P_ALL,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  RTM_DELQDISC,
  RTM_DELTCLASS,
  RTM_DELTFILTER,
  RTM_GETQDISC,
  RTM_GETTCLASS,
  RTM_GETTFILTER,
  RTM_NEWQDISC,
  RTM_NEWTCLASS,
  RTM_NEWTFILTER,
  TC_H_INGRESS,
  TC_H_INGRESS_HANDLE,
  TC_H_ROOT,
  TCA_KIND,
  TCA_OPTIONS,
  TCA_U32_ACT,
  TCA_U32_CLASSID,
  TCA_U32_SEL,
} from './wire/constants.js'
import { encodeMessage } from './wire/header.js'
import { decodeHtbClassOptions, decodeHtbQdiscOptions, encodeHtbClassOptions, encodeHtbQdiscOptions } from './wire/htb.js'
import { decodeTcMsg, encodeTcMsg, filterInfo, filterPrio, TCMSG_LEN } from './wire/tcmsg.js'
import { decodeMirredRedirect, decodeU32Sel, encodeMirredRedirect, encodeU32Sel, u32Keys, u32MatchOf } from './wire/u32.js'
import type { ClassInfo, FilterInfo, HtbClassSpec, QdiscInfo, QdiscSpec, U32FilterSpec } from './tc-types.js'

const REPLACE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
const CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
const DELETE = NLM_F_REQUEST | NLM_F_ACK

/** `tc qdisc replace dev D root handle H: htb default N` / `tc qdisc replace dev D ingress`. */
export function encodeReplaceQdisc(q: QdiscSpec): Buffer {
  if (q.kind === 'ingress') {
    return encodeMessage(RTM_NEWQDISC, REPLACE, [encodeTcMsg({ ifindex: q.dev, handle: TC_H_INGRESS_HANDLE, parent: TC_H_INGRESS }), attrString(TCA_KIND, 'ingress')])
  }
  return encodeMessage(RTM_NEWQDISC, REPLACE, [
    encodeTcMsg({ ifindex: q.dev, handle: q.handle, parent: TC_H_ROOT }),
    attrString(TCA_KIND, 'htb'),
    encodeHtbQdiscOptions(q.defaultClass),
  ])
}

/** `tc qdisc del dev D root` / `tc qdisc del dev D ingress`. */
export function encodeDeleteQdisc(dev: number, which: 'root' | 'ingress'): Buffer {
  if (which === 'root') return encodeMessage(RTM_DELQDISC, DELETE, [encodeTcMsg({ ifindex: dev, parent: TC_H_ROOT })])
  return encodeMessage(RTM_DELQDISC, DELETE, [encodeTcMsg({ ifindex: dev, handle: TC_H_INGRESS_HANDLE, parent: TC_H_INGRESS }), attrString(TCA_KIND, 'ingress')])
}

/** `tc class replace dev D parent P classid C htb rate … ceil … burst … cburst …` (changes a class in place). */
export function encodeReplaceHtbClass(c: HtbClassSpec): Buffer {
  return encodeMessage(RTM_NEWTCLASS, CREATE, [
    encodeTcMsg({ ifindex: c.dev, handle: c.classid, parent: c.parent }),
    attrString(TCA_KIND, 'htb'),
    encodeHtbClassOptions(c),
  ])
}

export function encodeDeleteClass(dev: number, classid: number): Buffer {
  return encodeMessage(RTM_DELTCLASS, DELETE, [encodeTcMsg({ ifindex: dev, handle: classid })])
}

/**
 * `tc filter replace dev D parent P protocol all prio N u32 match … [flowid C] [action mirred egress redirect
 * dev X]`. Without a handle this adds a filter: a changed filter is replaced by deleting its prio first.
 */
export function encodeAddU32Filter(f: U32FilterSpec): Buffer {
  const opts: Buffer[] = []
  if (f.flowid !== undefined) opts.push(attrU32(TCA_U32_CLASSID, f.flowid))
  if (f.redirectTo !== undefined) opts.push(encodeMirredRedirect(f.redirectTo))
  opts.push(attr(TCA_U32_SEL, encodeU32Sel(u32Keys(f.match))))
  return encodeMessage(RTM_NEWTFILTER, CREATE, [
    encodeTcMsg({ ifindex: f.dev, parent: f.parent, info: filterInfo(f.prio, ETH_P_ALL) }),
    attrString(TCA_KIND, 'u32'),
    nested(TCA_OPTIONS, opts),
  ])
}

/** `tc filter del dev D parent P protocol all prio N`: every filter of that priority. */
export function encodeDeleteFilters(dev: number, parent: number, prio: number): Buffer {
  return encodeMessage(RTM_DELTFILTER, DELETE, [encodeTcMsg({ ifindex: dev, parent, info: filterInfo(prio, ETH_P_ALL) })])
}

/** `tc qdisc show dev D` (every device when dev is 0). */
export function encodeDumpQdiscs(dev = 0): Buffer {
  return encodeMessage(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, [encodeTcMsg({ ifindex: dev })])
}

/** `tc class show dev D`. */
export function encodeDumpClasses(dev: number): Buffer {
  return encodeMessage(RTM_GETTCLASS, NLM_F_REQUEST | NLM_F_DUMP, [encodeTcMsg({ ifindex: dev })])
}

/** `tc filter show dev D parent P`. */
export function encodeDumpFilters(dev: number, parent: number): Buffer {
  return encodeMessage(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, [encodeTcMsg({ ifindex: dev, parent })])
}

export function decodeQdisc(payload: Buffer): QdiscInfo {
  const m = decodeTcMsg(payload)
  // Indexed, not cut up: a namespace's dump has a qdisc per device, and only the kind is read from most.
  const a = new AttrIndex(payload, TCMSG_LEN)
  const kind = a.string(TCA_KIND) ?? ''
  const q: QdiscInfo = { dev: m.ifindex, kind, handle: m.handle, parent: m.parent }
  const opts = kind === 'htb' ? a.get(TCA_OPTIONS) : undefined
  if (opts) q.defaultClass = decodeHtbQdiscOptions(attrMap(opts))?.defaultClass
  return q
}

export function decodeClass(payload: Buffer): ClassInfo {
  const m = decodeTcMsg(payload)
  const a = attrMap(payload, TCMSG_LEN)
  const kind = readString(a.get(TCA_KIND)) ?? ''
  const opts = a.get(TCA_OPTIONS)
  const c: ClassInfo = { dev: m.ifindex, kind, classid: m.handle, parent: m.parent }
  const htb = kind === 'htb' && opts ? decodeHtbClassOptions(attrMap(opts)) : undefined
  if (htb) c.htb = { rate: htb.rate, ceil: htb.ceil, burst: htb.burst, cburst: htb.cburst }
  return c
}

export function decodeFilter(payload: Buffer): FilterInfo {
  const m = decodeTcMsg(payload)
  const a = attrMap(payload, TCMSG_LEN)
  const kind = readString(a.get(TCA_KIND)) ?? ''
  const f: FilterInfo = { dev: m.ifindex, parent: m.parent, prio: filterPrio(m.info), kind, handle: m.handle }
  const opts = a.get(TCA_OPTIONS)
  if (kind !== 'u32' || !opts) return f
  const o = attrMap(opts)
  const sel = o.get(TCA_U32_SEL)
  if (sel) f.match = u32MatchOf(decodeU32Sel(sel))
  f.flowid = readU32(o.get(TCA_U32_CLASSID))
  const act = o.get(TCA_U32_ACT)
  if (act) f.redirectTo = decodeMirredRedirect(act)
  return f
}
