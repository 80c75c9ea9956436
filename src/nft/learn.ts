/**
 * Address learning in the kernel, with no capture and no daemon: a table of kvmnet's own (one per network,
 * `kvmnet-addr_<tag>`, bridge or netdev family) whose rules only `update` two dynamic sets — port . MAC .
 * IPv4 and port . MAC . IPv6 — from what guests send: the ARP sender address, the IPv4 source, the IPv6
 * source (link-local and SLAAC addresses included; `::` of duplicate address detection left out). Each
 * element ages out `timeout` seconds after the guest last used the address. The chains have accept
 * policies and no verdicts, so they never change what passes; they are a separate table so that replacing
 * the firewall does not forget what was learned, and so kinds without firewall rules (bridge, macvtap)
 * learn too.
 *
 * bridge family: one prerouting chain for frames that enter by one of the network's ports (`iifname
 * @ports`: `meta ibrname` would need nft_meta_bridge, which kernels such as this one's lack), the ports in
 * a set of their own so a port added or removed changes no rule and forgets nothing. netdev family
 * (macvtap): what a guest writes to its macvtap leaves by that device's egress hook (kernel 5.16+), one
 * chain per device.
 */
import { SpecError } from '../errors.js'
import { METAINFO, concat, match, meta, payload, updateSet, type Expr, type NftCommand, type NftDocument, type NftListing, type NftObject, type SetObj, type Stmt } from './json.js'
import type { AddressLearning, LearnedAddress } from './model.js'
import { TAG_PATTERN, ruleComment } from './names.js'

/** Not `kvmnet_`: orphan cleanup of inet tables never sees these, and no tag can make one collide. */
export const LEARN_TABLE_PREFIX = 'kvmnet-addr_'
export const LEARN_FAMILIES = ['bridge', 'netdev'] as const
const SET_SIZE = 65536
/** Chains run before the port filters (prio -200), so a frame they drop is still learned from: it was sent. */
const PRIO = -250

export function learnTableName(tag: string): string {
  return `${LEARN_TABLE_PREFIX}${tag}`
}

/** The tag of a learning table's name, undefined for any other table. */
export function tagOfLearnTable(name: string): string | undefined {
  return name.startsWith(LEARN_TABLE_PREFIX) && TAG_PATTERN.test(name.slice(LEARN_TABLE_PREFIX.length)) ? name.slice(LEARN_TABLE_PREFIX.length) : undefined
}

function checkLearning(l: AddressLearning): void {
  if (!TAG_PATTERN.test(l.tag)) throw new SpecError('tag', 'must match [A-Za-z0-9_-]{1,32}')
  if (!Number.isInteger(l.timeout) || l.timeout < 1 || l.timeout > 86400) throw new SpecError('timeout', `not 1-86400 seconds: ${l.timeout}`)
}

/**
 * The sets of a learning table. No `dynamic` flag: nft 1.0.6's JSON parser (Debian 12's) refuses it, and
 * nft sets it itself (NFT_SET_EVAL, without which the kernel refuses the `update` rules: EOPNOTSUPP) on a
 * set created in the same transaction as a rule that updates it from the packet path — which is why the
 * sets and their rules are always one document (renderLearning).
 */
export function learningSets(l: AddressLearning): SetObj[] {
  const table = learnTableName(l.tag)
  return (
    [
      ['v4', 'ipv4_addr'],
      ['v6', 'ipv6_addr'],
    ] as const
  ).map(([name, type]) => ({ family: l.family, table, name, type: ['ifname', 'ether_addr', type], flags: ['timeout'], timeout: l.timeout, size: SET_SIZE }))
}

/**
 * Creates or atomically replaces a network's learning table (what it had learned is forgotten), sets,
 * chains and rules in one transaction. `first`: the namespace holds no such table, which is then created,
 * nothing deleted (see render.ts, renderFirstInstall: a transaction that deletes makes the process's exit
 * wait a grace period). `others`: tables to delete in the same transaction (the other family's, left by a
 * converge from another kind).
 */
export function renderLearning(l: AddressLearning, first = false, others: readonly NftCommand[] = []): NftDocument {
  checkLearning(l)
  const table = learnTableName(l.tag)
  const ref: NftObject = { table: { family: l.family, name: table } }
  const portSet: SetObj[] = l.family === 'bridge' ? [{ family: 'bridge', table, name: 'ports', type: 'ifname' }] : []
  const head: NftCommand[] = first ? [{ create: ref }] : [{ add: ref }, { delete: ref }, { add: ref }]
  const out: NftCommand[] = [METAINFO, ...others, ...head, ...[...learningSets(l), ...portSet].map((set): NftCommand => ({ add: { set } }))]
  const rule = (chain: string, what: string, expr: Stmt[]): NftCommand => ({ add: { rule: { family: l.family, table, chain, expr, comment: ruleComment(l.tag, what) } } })
  if (l.family === 'bridge') {
    const from = [match(meta('iifname'), '@ports')]
    if (l.ports.length > 0) out.push({ add: { element: { family: 'bridge', table, name: 'ports', elem: [...l.ports] } } })
    out.push({ add: { chain: { family: 'bridge', table, name: 'learn', type: 'filter', hook: 'prerouting', prio: PRIO, policy: 'accept' } } })
    for (const [what, expr] of learnRules(meta('iifname'))) out.push(rule('learn', what, [...from, ...expr]))
  } else {
    for (const dev of l.devices) {
      const chain = `learn-${dev}`
      out.push({ add: { chain: { family: 'netdev', table, name: chain, type: 'filter', hook: 'egress', dev, prio: PRIO, policy: 'accept' } } })
      for (const [what, expr] of learnRules(dev)) out.push(rule(chain, `${dev}: ${what}`, expr))
    }
  }
  return { nftables: out }
}

/** Deletes the learning tables of `tag` in `families` (fine when there are none): commands for renderLearning's `others`. */
export function learningRemoveCommands(tag: string, families: readonly AddressLearning['family'][]): NftCommand[] {
  return families.flatMap((family): NftCommand[] => {
    const ref: NftObject = { table: { family, name: learnTableName(tag) } }
    return [{ add: ref }, { delete: ref }]
  })
}

/** The shape of a learning table without its bridge ports: while it stays the same, only the ports set changes. */
export function learningShape(l: AddressLearning): AddressLearning {
  return l.family === 'bridge' ? { ...l, ports: [] } : l
}

/**
 * The bridge ports set turned from `before` (what the kernel's set holds) into `l.ports`, keeping what was
 * learned: the ports that come are added and the ports that go are deleted, one transaction; undefined when
 * the set is already right. Element by element rather than a flush and a refill: a port added (a tap, a
 * CNI ADD's veth) is then a transaction that only adds, so the process's exit waits no RCU grace period
 * for elements the flush had deleted only to add them again (adds-only.ts says why that wait exists).
 */
export function renderLearningPorts(l: Extract<AddressLearning, { family: 'bridge' }>, before: readonly string[]): NftDocument | undefined {
  checkLearning(l)
  const ref = { family: 'bridge', table: learnTableName(l.tag), name: 'ports' } as const
  const was = new Set(before)
  const wanted = new Set(l.ports)
  const come = l.ports.filter((p) => !was.has(p))
  const go = before.filter((p) => !wanted.has(p))
  if (come.length === 0 && go.length === 0) return undefined
  return {
    nftables: [
      METAINFO,
      ...(go.length > 0 ? [{ delete: { element: { ...ref, elem: go } } }] : []),
      ...(come.length > 0 ? [{ add: { element: { ...ref, elem: come } } }] : []),
    ],
  }
}

/** The three learning rules, the port given as `port` (iifname in the bridge family, the device's name on egress). */
function learnRules(port: Expr): Array<[string, Stmt[]]> {
  const mac = payload('ether', 'saddr')
  return [
    ['learn arp', [match(payload('arp', 'saddr ip'), '0.0.0.0', '!='), updateSet('v4', concat(port, mac, payload('arp', 'saddr ip')))]],
    ['learn ipv4', [match(payload('ip', 'saddr'), '0.0.0.0', '!='), updateSet('v4', concat(port, mac, payload('ip', 'saddr')))]],
    ['learn ipv6', [match(payload('ip6', 'saddr'), '::', '!='), updateSet('v6', concat(port, mac, payload('ip6', 'saddr')))]],
  ]
}

/** Deletes a network's learning tables of both families, fine when there are none. */
export function renderLearningRemove(tags: readonly string[]): NftDocument {
  for (const [i, tag] of tags.entries()) if (!TAG_PATTERN.test(tag)) throw new SpecError(tags.length === 1 ? 'tag' : `[${i}]`, 'must match [A-Za-z0-9_-]{1,32}')
  const cmds = tags.flatMap((tag) => learningRemoveCommands(tag, LEARN_FAMILIES))
  return { nftables: [METAINFO, ...cmds] }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The learned addresses in a listing of a learning table (`list table <family> kvmnet-addr_<tag>`). */
export function parseLearned(doc: NftListing): LearnedAddress[] {
  const out: LearnedAddress[] = []
  for (const item of doc.nftables ?? []) {
    const s = item['set']
    if (!isObj(s) || typeof s['name'] !== 'string' || tagOfLearnTable(String(s['table'])) === undefined) continue
    const family = s['name'] === 'v4' ? 4 : s['name'] === 'v6' ? 6 : undefined
    if (family === undefined || !Array.isArray(s['elem'])) continue
    const timeout = typeof s['timeout'] === 'number' ? s['timeout'] : 0
    for (const e of s['elem']) {
      // Elements with a timeout are listed as { elem: { val, expires, timeout? } }.
      const inner = isObj(e) && isObj(e['elem']) ? e['elem'] : undefined
      const val = inner && isObj(inner['val']) ? inner['val']['concat'] : undefined
      if (!inner || !Array.isArray(val) || val.length !== 3 || !val.every((v) => typeof v === 'string')) continue
      const [ifname, mac, address] = val as [string, string, string]
      const expires = typeof inner['expires'] === 'number' ? inner['expires'] : timeout
      out.push({ ifname, mac: mac.toLowerCase(), address, family, expires, timeout })
    }
  }
  return out
}

/** The port names in a listing of a bridge learning table's `ports` set. */
export function parseLearningPorts(doc: NftListing): string[] {
  for (const item of doc.nftables ?? []) {
    const s = item['set']
    if (isObj(s) && s['name'] === 'ports') return Array.isArray(s['elem']) ? s['elem'].filter((e): e is string => typeof e === 'string') : []
  }
  return []
}
