/**
 * Builders for the libnftables JSON schema (libnftables-json(5)): only the statements and expressions
 * kvmnet uses, spelled exactly as `nft -j list` prints them back, so a rendered rule and a listed rule
 * compare equal.
 */

/** One element of the `nftables` array. */
export type NftCommand = Record<string, unknown>

/** The document `nft -j -f -` reads. */
export interface NftDocument {
  nftables: NftCommand[]
}

export type Expr = string | number | string[] | Record<string, unknown>
export type Stmt = Record<string, unknown>

/** schema version 1 is what nft 0.9.x–1.1 speak; nft refuses a document newer than it understands. */
export const METAINFO: NftCommand = { metainfo: { json_schema_version: 1 } }

export const meta = (key: string): Expr => ({ meta: { key } })
export const ct = (key: string): Expr => ({ ct: { key } })
export const payload = (protocol: string, field: string): Expr => ({ payload: { protocol, field } })
export const prefix = (addr: string, len: number): Expr => ({ prefix: { addr, len } })
export const range = (from: number | string, to: number | string): Expr => ({ range: [from, to] })
export const fibDaddrType: Expr = { fib: { result: 'type', flags: ['daddr'] } }

export function match(left: Expr, right: Expr, op: '==' | '!=' | 'in' = '=='): Stmt {
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

/** `<key> map { k : v, ... }` as an anonymous map. */
export function anonMap(key: Expr, pairs: Array<[number, number]>): Expr {
  return { map: { key, data: { set: pairs } } }
}
