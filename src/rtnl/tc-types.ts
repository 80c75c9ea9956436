/** What callers say about traffic control objects (qdiscs, classes, filters) and what they get back. */
import type { U32Match } from './wire/u32.js'

export type { U32Match } from './wire/u32.js'

/** A root HTB qdisc, or the ingress qdisc (handle ffff:), on the device `dev` (ifindex). */
export type QdiscSpec = { kind: 'htb'; dev: number; handle: number; defaultClass: number } | { kind: 'ingress'; dev: number }

/** An HTB class; rates in bytes/s, bursts in bytes. */
export interface HtbClassSpec {
  dev: number
  classid: number
  parent: number
  rate: number
  ceil?: number | undefined
  burst?: number | undefined
  cburst?: number | undefined
}

/** A u32 filter (protocol all) that sends what it matches to a class (flowid) or to another device (redirect). */
export interface U32FilterSpec {
  dev: number
  parent: number
  prio: number
  match: U32Match
  flowid?: number | undefined
  /** ifindex whose egress gets the packets (mirred egress redirect). */
  redirectTo?: number | undefined
}

export interface QdiscInfo {
  dev: number
  kind: string
  handle: number
  parent: number
  /** HTB: the minor of the class unclassified packets go to. */
  defaultClass?: number | undefined
}

export interface ClassInfo {
  dev: number
  kind: string
  classid: number
  parent: number
  htb?: { rate: number; ceil: number; burst: number; cburst: number } | undefined
}

export interface FilterInfo {
  dev: number
  parent: number
  prio: number
  kind: string
  handle: number
  /** u32 only, for the entry that carries keys (a u32 prio also dumps its hash table). */
  match?: U32Match | undefined
  flowid?: number | undefined
  redirectTo?: number | undefined
}
