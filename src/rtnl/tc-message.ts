/**
 * RTM_*QDISC / RTM_*TCLASS / RTM_*TFILTER requests for what kvmnet shapes with (root HTB, ingress, HTB
 * classes, u32 filters with a flowid or a mirred redirect), and decoders for their dumps. The requests are
 * those `tc qdisc replace`, `tc class replace` and `tc filter replace` send, byte for byte.
 */
import { AttrIndex, attr, attrMap, attrString, attrU32, nested, readString, readU32 } from './wire/attrs.js'
import {
  ETH_P_ALL,
  NLA_HDRLEN,
  NLM_F_ACK,
  NLMSG_HDRLEN,
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

/** Where a message's tcm_ifindex is: after the netlink header, tcmsg's family and padding. */
const IFINDEX_AT = NLMSG_HDRLEN + 4

/**
 * Messages already encoded, by everything but their devices: a network's ports share their limits, and an
 * HTB class is ~2 KiB of rate tables (encoding 600 requests for 100 shaped ports was ~6 ms of an `up`).
 * Each use gets a copy with its devices written in (the socket writes seq and pid into what it sends).
 */
const templates = new Map<string, { msg: Buffer; redirectAt?: number | undefined }>()
const TEMPLATES_KEPT = 256

function fromTemplate(key: string, make: () => { msg: Buffer; redirectAt?: number | undefined }, dev: number, redirectTo?: number): Buffer {
  let t = templates.get(key)
  if (!t) {
    t = make()
    if (templates.size >= TEMPLATES_KEPT) templates.clear()
    templates.set(key, t)
  }
  const out = Buffer.from(t.msg)
  out.writeInt32LE(dev, IFINDEX_AT)
  if (t.redirectAt !== undefined && redirectTo !== undefined) out.writeUInt32LE(redirectTo, t.redirectAt)
  return out
}

/** `tc qdisc replace dev D root handle H: htb default N` / `tc qdisc replace dev D ingress`. */
export function encodeReplaceQdisc(q: QdiscSpec): Buffer {
  if (q.kind === 'ingress') {
    return fromTemplate('ingress', () => ({ msg: encodeMessage(RTM_NEWQDISC, REPLACE, [encodeTcMsg({ handle: TC_H_INGRESS_HANDLE, parent: TC_H_INGRESS }), attrString(TCA_KIND, 'ingress')]) }), q.dev)
  }
  return fromTemplate(
    `htb ${q.handle} ${q.defaultClass}`,
    () => ({ msg: encodeMessage(RTM_NEWQDISC, REPLACE, [encodeTcMsg({ handle: q.handle, parent: TC_H_ROOT }), attrString(TCA_KIND, 'htb'), encodeHtbQdiscOptions(q.defaultClass)]) }),
    q.dev,
  )
}

/** `tc qdisc del dev D root` / `tc qdisc del dev D ingress`. */
export function encodeDeleteQdisc(dev: number, which: 'root' | 'ingress'): Buffer {
  if (which === 'root') return encodeMessage(RTM_DELQDISC, DELETE, [encodeTcMsg({ ifindex: dev, parent: TC_H_ROOT })])
  return encodeMessage(RTM_DELQDISC, DELETE, [encodeTcMsg({ ifindex: dev, handle: TC_H_INGRESS_HANDLE, parent: TC_H_INGRESS }), attrString(TCA_KIND, 'ingress')])
}

/** `tc class replace dev D parent P classid C htb rate … ceil … burst … cburst …` (changes a class in place). */
export function encodeReplaceHtbClass(c: HtbClassSpec): Buffer {
  return fromTemplate(
    `class ${c.classid} ${c.parent} ${c.rate} ${c.ceil} ${c.burst} ${c.cburst}`,
    () => ({ msg: encodeMessage(RTM_NEWTCLASS, CREATE, [encodeTcMsg({ handle: c.classid, parent: c.parent }), attrString(TCA_KIND, 'htb'), encodeHtbClassOptions(c)]) }),
    c.dev,
  )
}

export function encodeDeleteClass(dev: number, classid: number): Buffer {
  return encodeMessage(RTM_DELTCLASS, DELETE, [encodeTcMsg({ ifindex: dev, handle: classid })])
}

/**
 * `tc filter replace dev D parent P protocol all prio N u32 match … [flowid C] [action mirred egress redirect
 * dev X]`. Without a handle this adds a filter: a changed filter is replaced by deleting its prio first.
 */
export function encodeAddU32Filter(f: U32FilterSpec): Buffer {
  const key = `u32 ${f.parent} ${f.prio} ${JSON.stringify(f.match)} ${f.flowid} ${f.redirectTo !== undefined}`
  return fromTemplate(
    key,
    () => {
      const head = [encodeTcMsg({ parent: f.parent, info: filterInfo(f.prio, ETH_P_ALL) }), attrString(TCA_KIND, 'u32')]
      const opts: Buffer[] = []
      if (f.flowid !== undefined) opts.push(attrU32(TCA_U32_CLASSID, f.flowid))
      // The redirect's ifindex ends its action (tc_mirred's last field, the action's last attribute).
      let redirectAt: number | undefined
      if (f.redirectTo !== undefined) {
        const act = encodeMirredRedirect(0)
        redirectAt = NLMSG_HDRLEN + head.reduce((n, b) => n + b.length, 0) + NLA_HDRLEN + opts.reduce((n, b) => n + b.length, 0) + act.length - 4
        opts.push(act)
      }
      opts.push(attr(TCA_U32_SEL, encodeU32Sel(u32Keys(f.match))))
      return { msg: encodeMessage(RTM_NEWTFILTER, CREATE, [...head, nested(TCA_OPTIONS, opts)]), redirectAt }
    },
    f.dev,
    f.redirectTo,
  )
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
