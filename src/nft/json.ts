/**
 * The libnftables JSON schema (libnftables-json(5)), typed: only the commands, statements and expressions
 * kvmnet emits, spelled exactly as `nft -j list` prints them back, so a rendered rule and a listed rule
 * compare equal. A rule kvmnet would write wrong (a misspelt key, a statement in an expression's place)
 * fails to compile. What nft lists back is read as an NftListing: unknown until checked (parse.ts).
 */

export type NftFamily = 'inet' | 'ip' | 'ip6' | 'bridge' | 'netdev' | 'arp'

export type MetaKey = 'iifname' | 'oifname' | 'nfproto' | 'l4proto' | 'ibrname' | 'protocol'
export type CtKey = 'state' | 'status'
/** Payload fields as nft names them: `ip saddr`, `arp saddr ether`, `udp dport`. */
export type PayloadField =
  | { protocol: 'ip' | 'ip6'; field: 'saddr' | 'daddr' }
  | { protocol: 'ether'; field: 'saddr' | 'daddr' }
  | { protocol: 'arp'; field: 'saddr ether' | 'saddr ip' }
  | { protocol: 'tcp' | 'udp'; field: 'sport' | 'dport' }
  | { protocol: 'icmpv6'; field: 'type' }

export type Value = string | number

export type Expr =
  | Value
  /** A list of flags (`ct state { established, related }` as nft's JSON prints it). */
  | readonly string[]
  | { set: readonly Value[] }
  | { meta: { key: MetaKey } }
  | { ct: { key: CtKey } }
  | { payload: PayloadField }
  | { prefix: { addr: string; len: number } }
  | { range: readonly [Value, Value] }
  | { fib: { result: 'type'; flags: readonly 'daddr'[] } }
  | { map: { key: Expr; data: { set: readonly (readonly [number, number])[] } } }
  /** `a . b . c`: a set element of several fields (address learning's port . MAC . address). */
  | { concat: readonly Expr[] }

export type MatchOp = '==' | '!=' | 'in'

export type Stmt =
  | { match: { op: MatchOp; left: Expr; right: Expr } }
  | { accept: null }
  | { drop: null }
  | { return: null }
  | { reject: { type: 'icmpx'; expr: 'port-unreachable' } }
  | { masquerade: null | { port: Expr } }
  | { snat: { family: 'ip' | 'ip6'; addr: string; port?: Expr } }
  | { dnat: { family: 'ip' | 'ip6'; addr: string; port?: Expr } }
  /** `update @set { elem }`: adds the element, or restarts its timeout (named sets only, `@name`). */
  | { set: { op: 'update' | 'add'; elem: Expr; set: `@${string}` } }

export interface TableObj {
  family: NftFamily
  name: string
}

export interface ChainObj {
  family: NftFamily
  table: string
  name: string
  type?: 'filter' | 'nat'
  hook?: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress'
  /** netdev family: the one device the chain's hook is on. */
  dev?: string
  prio?: number
  policy?: 'accept' | 'drop'
}

export interface RuleObj {
  family: NftFamily
  table: string
  chain: string
  expr: readonly Stmt[]
  comment?: string
}

/** A named set; with `flags: ['dynamic', 'timeout']` rules can `update` it with elements that age out (sent as text: learn.ts). */
export interface SetObj {
  family: NftFamily
  table: string
  name: string
  /** Required to add a set; a reference (flush, elements) names it by family, table and name only. */
  type?: string | readonly string[]
  flags?: readonly ('dynamic' | 'timeout' | 'interval' | 'constant')[]
  /** Seconds an element lives after it was last added or updated. */
  timeout?: number
  size?: number
}

/** Elements of a named set. */
export interface ElementObj {
  family: NftFamily
  table: string
  name: string
  elem: readonly Value[]
}

/** One object of a command: a table, a chain, a set, set elements or a rule. */
export type NftObject = { table: TableObj } | { chain: ChainObj } | { set: SetObj } | { element: ElementObj } | { rule: RuleObj }

/** One element of the `nftables` array kvmnet sends. */
export type NftCommand =
  | { metainfo: { json_schema_version: 1 } }
  | { add: NftObject }
  // Like add, but fails (EEXIST) when the object is already there: a first install's tables (render.ts).
  | { create: NftObject }
  | { delete: NftObject }
  | { flush: NftObject }

/** The document `nft -j -f -` (or libnftables) reads: one transaction. */
export interface NftDocument {
  nftables: NftCommand[]
}

/** What `nft -j list …` prints: objects whose shape is checked where they are read. */
export interface NftListing {
  nftables: Record<string, unknown>[]
}

/** schema version 1 is what nft 0.9.x–1.1 speak; nft refuses a document newer than it understands. */
export const METAINFO: NftCommand = { metainfo: { json_schema_version: 1 } }

export const meta = (key: MetaKey): Expr => ({ meta: { key } })
export const ct = (key: CtKey): Expr => ({ ct: { key } })
export function payload(protocol: 'ip' | 'ip6', field: 'saddr' | 'daddr'): Expr
export function payload(protocol: 'ether', field: 'saddr' | 'daddr'): Expr
export function payload(protocol: 'arp', field: 'saddr ether' | 'saddr ip'): Expr
export function payload(protocol: 'tcp' | 'udp', field: 'sport' | 'dport'): Expr
export function payload(protocol: 'icmpv6', field: 'type'): Expr
export function payload(protocol: PayloadField['protocol'], field: PayloadField['field']): Expr {
  // The overloads above pair each protocol with its fields; this one only builds the object.
  return { payload: { protocol, field } as PayloadField }
}
export const prefix = (addr: string, len: number): Expr => ({ prefix: { addr, len } })
export const range = (from: Value, to: Value): Expr => ({ range: [from, to] })
export const setOf = (values: readonly Value[]): Expr => ({ set: values })
export const fibDaddrType: Expr = { fib: { result: 'type', flags: ['daddr'] } }

export function match(left: Expr, right: Expr, op: MatchOp = '=='): Stmt {
  return { match: { op, left, right } }
}

export const accept: Stmt = { accept: null }
export const drop: Stmt = { drop: null }
export const ret: Stmt = { return: null }
/** icmpx: the right ICMP or ICMPv6 port-unreachable for the packet's family, what libvirt sends too. */
export const rejectUnreachable: Stmt = { reject: { type: 'icmpx', expr: 'port-unreachable' } }

export function masquerade(ports?: [number, number]): Stmt {
  return { masquerade: ports ? { port: range(ports[0], ports[1]) } : null }
}

export function snat(family: 'ip' | 'ip6', addr: string, ports?: [number, number]): Stmt {
  return { snat: { family, addr, ...(ports ? { port: range(ports[0], ports[1]) } : {}) } }
}

export function dnat(family: 'ip' | 'ip6', addr: string, port?: Expr): Stmt {
  return { dnat: { family, addr, ...(port !== undefined ? { port } : {}) } }
}

export const concat = (...parts: Expr[]): Expr => ({ concat: parts })
/** `update @name { elem }`. */
export function updateSet(name: string, elem: Expr): Stmt {
  return { set: { op: 'update', elem, set: `@${name}` } }
}

/** `<key> map { k : v, ... }` as an anonymous map. */
export function anonMap(key: Expr, pairs: Array<[number, number]>): Expr {
  return { map: { key, data: { set: pairs } } }
}
