/**
 * NetworkRules -> one nft JSON transaction.
 *
 * Ownership: each network gets its own table, `inet kvmnet_<tag>`, and kvmnet never adds to, reads
 * rules from, or flushes a table it did not create. One table per network (rather than one shared kvmnet
 * table with per-network chains) because then:
 *  - replacing a network's rules is `add table; delete table; add table; chains; rules` in ONE transaction:
 *    the kernel swaps old for new atomically, so there is no moment without rules and never a duplicate,
 *    whatever was there before (the leading `add` makes the `delete` valid when nothing was);
 *  - removing is one `delete table` (made idempotent the same way), and orphan cleanup is "every inet
 *    table whose name starts with kvmnet_" with no rule parsing;
 *  - networks never share a chain, so applying one cannot disturb another.
 * inet (not ip + ip6) so a network's IPv4 and IPv6 rules live and die together; NAT in inet needs kernel
 * 5.2, far below what kvmnet requires anyway.
 *
 * Comments: every rule carries `kvmnet:<tag> <purpose>`. Tables and chains are identified by name only:
 * the kernel (5.10+) and nft's text syntax accept table/chain comments, but the libnftables JSON schema
 * (doc/libnftables-json.adoc) has no `comment` for tables or chains and nft 1.0.6 (Debian 12) silently
 * drops one given in JSON, so the name is the reliable mark.
 *
 * Base chains use accept policies: another table's drop still drops (every base chain on a hook sees the
 * packet), so kvmnet only ever narrows what passes, and its accepts cannot open a hole in a host firewall.
 */
import { SpecError } from '../errors.js'
import type { NetworkRules, PortFilter } from './model.js'
import { TABLE_FAMILY, TAG_PATTERN, ruleComment, tableName } from './names.js'
import {
  METAINFO,
  accept,
  anonMap,
  drop,
  ct,
  dnat,
  fibDaddrType,
  masquerade,
  match,
  meta,
  payload,
  prefix,
  rejectUnreachable,
  ret,
  snat,
  type Expr,
  type NftCommand,
  type NftObject,
  type NftDocument,
  type TableObj,
  type Stmt,
} from './json.js'
import { checkRules, type CheckedForward, type CheckedRules, type CheckedSubnet } from './validate.js'
import { forwardsNeedLocalnet } from './sysctls.js'

/** Source ports a masqueraded TCP/UDP flow may use: never a privileged one (as libvirt does). */
const NAT_PORTS: [number, number] = [1024, 65535]

const CHAINS = {
  // raw priority: before conntrack and before any DNAT, so nothing of such a packet is ever processed.
  guard: { type: 'filter', hook: 'prerouting', prio: -300 },
  input: { type: 'filter', hook: 'input', prio: 0 },
  forward: { type: 'filter', hook: 'forward', prio: 0 },
  prerouting: { type: 'nat', hook: 'prerouting', prio: -100 },
  output: { type: 'nat', hook: 'output', prio: -100 },
  postrouting: { type: 'nat', hook: 'postrouting', prio: 100 },
} as const
type ChainName = keyof typeof CHAINS

/** The JSON document that atomically (re)creates the rules of one network. Throws SpecError on bad input. */
export function renderRules(rules: NetworkRules): NftDocument {
  return { nftables: [METAINFO, ...replaceCommands(checkRules(rules))] }
}

/**
 * The same transaction for a namespace known to hold none of its tables (a network's first apply): the
 * replace idiom's `add X; delete X` pairs dropped and each table created instead of added (`create` fails
 * rather than adds to a table that appeared after all), so that it only adds. Why it matters: whatever a
 * transaction deletes, nf_tables frees after an RCU grace period (a work item), and the release of any
 * nf_tables netlink socket waits for that work to finish (NETLINK_URELEASE, nft_rcv_nl_event). A process
 * exits only once its sockets are released: a `kvmnet up` whose last commit deleted something spent
 * 5-20 ms more in its own exit, waiting for the kernel to free an empty table it had just made to delete.
 */
export function renderFirstInstall(doc: NftDocument): NftDocument {
  const out: NftCommand[] = []
  const cmds = doc.nftables
  for (let i = 0; i < cmds.length; i++) {
    const c = cmds[i]!
    const next = cmds[i + 1]
    if ('add' in c && 'table' in c.add && next && 'delete' in next && 'table' in next.delete && sameTable(c.add.table, next.delete.table)) {
      i++
      continue
    }
    out.push('add' in c && 'table' in c.add ? { create: c.add } : c)
  }
  return { nftables: out }
}

function sameTable(a: TableObj, b: TableObj): boolean {
  return a.family === b.family && a.name === b.name
}

/** Several networks in one transaction: all replaced, or (on any error) none. */
export function renderRulesMany(list: readonly NetworkRules[]): NftDocument {
  const checked = list.map((r) => checkRules(r))
  const seen = new Set<string>()
  for (const [i, c] of checked.entries()) {
    if (seen.has(c.tag)) throw new SpecError(`[${i}].tag`, `duplicate tag ${c.tag}`)
    seen.add(c.tag)
  }
  return { nftables: [METAINFO, ...checked.flatMap((c) => replaceCommands(c))] }
}

/** Deletes the tables of `tags`, succeeding also for tags that have no table. */
export function renderRemove(tags: readonly string[]): NftDocument {
  for (const [i, tag] of tags.entries()) {
    if (!TAG_PATTERN.test(tag)) throw new SpecError(tags.length === 1 ? 'tag' : `[${i}]`, 'must match [A-Za-z0-9_-]{1,32}')
  }
  // The bridge-family table of port filters goes with the inet table (each `add` makes its `delete` valid).
  return {
    nftables: [
      METAINFO,
      ...tags.flatMap((t) => [add(tableRef(t)), del(tableRef(t)), add(bridgeTableRef(t)), del(bridgeTableRef(t))]),
    ],
  }
}

function bridgeTableRef(tag: string): NftObject {
  return { table: { family: 'bridge', name: tableName(tag) } }
}

function tableRef(tag: string): NftObject {
  return { table: { family: TABLE_FAMILY, name: tableName(tag) } }
}

const add = (obj: NftObject): NftCommand => ({ add: obj })
const del = (obj: NftObject): NftCommand => ({ delete: obj })

function replaceCommands(r: CheckedRules): NftCommand[] {
  const table = tableName(r.tag)
  const chains = buildChains(r)
  const out: NftCommand[] = [add(tableRef(r.tag)), del(tableRef(r.tag)), add(tableRef(r.tag))]
  for (const [name] of chains) {
    out.push(add({ chain: { family: TABLE_FAMILY, table, name, ...CHAINS[name], policy: 'accept' } }))
  }
  for (const [name, rules] of chains) {
    for (const { what, expr } of rules) {
      out.push(add({ rule: { family: TABLE_FAMILY, table, chain: name, expr, comment: ruleComment(r.tag, what) } }))
    }
  }
  // Port filters live in the bridge family (they see every frame a guest sends, also to other guests),
  // replaced together with the inet table: present only while some port is filtered.
  out.push(add(bridgeTableRef(r.tag)), del(bridgeTableRef(r.tag)))
  if (r.portFilters.length > 0) {
    out.push(add(bridgeTableRef(r.tag)))
    out.push(add({ chain: { family: 'bridge', table, name: PORT_FILTER_CHAIN, type: 'filter', hook: 'prerouting', prio: -200, policy: 'accept' } }))
    for (const f of r.portFilters) {
      for (const { what, expr } of portFilterRules(f)) {
        out.push(add({ rule: { family: 'bridge', table, chain: PORT_FILTER_CHAIN, expr, comment: ruleComment(r.tag, what) } }))
      }
    }
  }
  return out
}

export const PORT_FILTER_CHAIN = 'port-filter'

/** What one filtered port may send (see NetworkRules.portFilters). */
function portFilterRules(f: PortFilter): Rule[] {
  const p = f.port
  const from = match(meta('iifname'), p)
  const others = f.othersIpv4.filter((ip) => ip !== f.ipv4)
  const rules: Rule[] = [
    { what: `${p}: only its guest MAC`, expr: [from, match(payload('ether', 'saddr'), f.mac, '!='), drop] },
    { what: `${p}: ARP only from its guest MAC`, expr: [from, match(payload('arp', 'saddr ether'), f.mac, '!='), drop] },
  ]
  if (f.ipv4 !== undefined) {
    // 0.0.0.0: DHCP discovery and ARP probes before the guest has its address.
    const allowed = { set: [f.ipv4, '0.0.0.0'] }
    rules.push({ what: `${p}: ARP only for its address`, expr: [from, match(payload('arp', 'saddr ip'), allowed, '!='), drop] })
    rules.push({ what: `${p}: IPv4 only from its address`, expr: [from, match(payload('ip', 'saddr'), allowed, '!='), drop] })
  } else if (others.length > 0) {
    const taken = { set: [...others] }
    rules.push({ what: `${p}: ARP not for other guests' addresses`, expr: [from, match(payload('arp', 'saddr ip'), taken), drop] })
    rules.push({ what: `${p}: IPv4 not from other guests' addresses`, expr: [from, match(payload('ip', 'saddr'), taken), drop] })
  }
  rules.push({ what: `${p}: no DHCP server`, expr: [from, match(payload('udp', 'sport'), { set: [67, 547] }), drop] })
  rules.push({ what: `${p}: no IPv6 router advertisements`, expr: [from, match(payload('icmpv6', 'type'), 'nd-router-advert'), drop] })
  return rules
}

interface Rule {
  what: string
  expr: Stmt[]
}

function buildChains(r: CheckedRules): Array<[ChainName, Rule[]]> {
  const chains: Array<[ChainName, Rule[]]> = [['guard', guardChain(r)]]
  if (r.hostServices !== 'all') chains.push(['input', inputChain(r)])
  chains.push(['forward', forwardChain(r)])
  if (r.mode !== 'nat') return chains
  const ordered = bySpecificity(r.forwards)
  const pre = ordered.map((f) => dnatRule(f, 'prerouting'))
  const out = ordered.filter((f) => f.inInterface === undefined).map((f) => dnatRule(f, 'output'))
  if (pre.length > 0) chains.push(['prerouting', pre])
  if (out.length > 0) chains.push(['output', out])
  const post = postroutingChain(r)
  if (post.length > 0) chains.push(['postrouting', post])
  return chains
}

const iif = (name: string): Stmt => match(meta('iifname'), name)
const oif = (name: string): Stmt => match(meta('oifname'), name)
const saddrIn = (s: CheckedSubnet, op: '==' | '!=' = '=='): Stmt => match(payload(s.family, 'saddr'), prefix(s.addr, s.len), op)
const daddrIn = (s: CheckedSubnet, op: '==' | '!=' = '=='): Stmt => match(payload(s.family, 'daddr'), prefix(s.addr, s.len), op)
const subnets = (r: CheckedRules): CheckedSubnet[] => [r.v4, r.v6, ...r.extra].filter((s): s is CheckedSubnet => s !== undefined)

/**
 * Nothing with a loopback address comes from a guest. With route_localnet on the bridge (which forwards
 * reached via the host's 127.0.0.1 need) the kernel would otherwise accept a guest's packet to 127.0.0.1
 * and deliver it to services the host binds to loopback only (Docker adds the same guard).
 */
function guardChain(r: CheckedRules): Rule[] {
  const b = r.bridge
  return [
    { what: 'guest to loopback', expr: [iif(b), match(payload('ip', 'daddr'), prefix('127.0.0.0', 8)), drop] },
    { what: 'guest from loopback', expr: [iif(b), match(payload('ip', 'saddr'), prefix('127.0.0.0', 8)), drop] },
    { what: 'guest to ipv6 loopback', expr: [iif(b), match(payload('ip6', 'daddr'), '::1'), drop] },
    { what: 'guest from ipv6 loopback', expr: [iif(b), match(payload('ip6', 'saddr'), '::1'), drop] },
  ]
}

/**
 * What guests may reach on the host itself, on any of its addresses (the gateway, the uplink's, other
 * networks' gateways): with 'dhcp-dns' only what the network's dnsmasq serves, IPv6 neighbour discovery
 * (without which IPv6 does not work at all) and replies to connections the host opened; plus listed services.
 */
function inputChain(r: CheckedRules): Rule[] {
  const b = r.bridge
  const rules: Rule[] = [
    { what: 'replies to the host', expr: [iif(b), match(ct('state'), ['established', 'related'], 'in'), accept] },
    { what: 'dhcp', expr: [iif(b), match(payload('udp', 'dport'), 67), accept] },
    { what: 'dhcpv6', expr: [iif(b), match(payload('udp', 'dport'), 547), accept] },
    { what: 'dns udp', expr: [iif(b), match(payload('udp', 'dport'), 53), accept] },
    { what: 'dns tcp', expr: [iif(b), match(payload('tcp', 'dport'), 53), accept] },
    {
      what: 'ipv6 neighbour discovery',
      expr: [iif(b), match(payload('icmpv6', 'type'), { set: ['nd-router-solicit', 'nd-neighbor-solicit', 'nd-neighbor-advert'] }), accept],
    },
  ]
  if (Array.isArray(r.hostServices)) {
    for (const s of r.hostServices) rules.push({ what: `service ${s.proto}/${s.port}`, expr: [iif(b), match(payload(s.proto, 'dport'), s.port), accept] })
  }
  rules.push({ what: 'reject other host services', expr: [iif(b), rejectUnreachable] })
  return rules
}

function forwardChain(r: CheckedRules): Rule[] {
  const b = r.bridge
  const rules: Rule[] = [{ what: 'bridge to bridge', expr: [iif(b), oif(b), accept] }]
  if (r.mode === 'nat') {
    const up = r.uplink
    for (const s of subnets(r)) {
      const v = s.family === 'ip' ? 'ipv4' : 'ipv6'
      if (r.forwards.some((f) => f.family === s.family)) {
        rules.push({ what: `${v} port forwards in`, expr: [oif(b), daddrIn(s), match(ct('status'), 'dnat', 'in'), accept] })
      }
      rules.push({
        what: `${v} replies in`,
        expr: [...(up ? [iif(up)] : []), oif(b), daddrIn(s), match(ct('state'), ['established', 'related'], 'in'), accept],
      })
      rules.push({ what: `${v} out`, expr: [iif(b), ...(up ? [oif(up)] : []), saddrIn(s), accept] })
    }
  }
  if (r.mode === 'routed') {
    const up = r.uplink
    for (const s of subnets(r)) {
      const v = s.family === 'ip' ? 'ipv4' : 'ipv6'
      // No NAT: the outside reaches guests by their own addresses (it routes the subnet to the host), and
      // guests leave with them; only the network's own subnet passes, in both directions.
      rules.push({ what: `${v} in`, expr: [...(up ? [iif(up)] : []), oif(b), daddrIn(s), accept] })
      rules.push({ what: `${v} out`, expr: [iif(b), ...(up ? [oif(up)] : []), saddrIn(s), accept] })
    }
  }
  // Whatever was not accepted above: a spoofed source, a new connection from outside, isolation.
  rules.push({ what: 'reject from bridge', expr: [iif(b), rejectUnreachable] })
  rules.push({ what: 'reject to bridge', expr: [oif(b), rejectUnreachable] })
  return rules
}

function postroutingChain(r: CheckedRules): Rule[] {
  const b = r.bridge
  const rules: Rule[] = []
  if (forwardsNeedLocalnet(r)) {
    // 127.0.0.1:port DNATed to a guest leaves through the bridge with a loopback source the guest cannot
    // answer: give it the bridge address.
    rules.push({
      what: 'localhost to port forwards',
      expr: [oif(b), match(payload('ip', 'saddr'), prefix('127.0.0.0', 8)), masquerade()],
    })
  }
  for (const s of subnets(r)) {
    if (!r.forwards.some((f) => f.family === s.family)) continue
    // A guest reaching another guest through the host's forwarded port: without this the reply would go
    // straight back over the bridge, un-NATed, and the client would drop it.
    rules.push({
      what: `${s.family === 'ip' ? 'ipv4' : 'ipv6'} hairpin`,
      expr: [oif(b), saddrIn(s), daddrIn(s), match(ct('status'), 'dnat', 'in'), masquerade()],
    })
  }
  for (const s of subnets(r)) {
    if (!s.masquerade) continue
    const v = s.family === 'ip' ? 'ipv4' : 'ipv6'
    // Multicast and broadcast from the subnet (e.g. the host's own mDNS, DHCP) must keep their source.
    const exempt: Array<[string, Expr]> =
      s.family === 'ip'
        ? [['224.0.0.0/24', prefix('224.0.0.0', 24)], ['255.255.255.255', '255.255.255.255']]
        : [['ff00::/8', prefix('ff00::', 8)]]
    for (const [text, dst] of exempt) {
      rules.push({ what: `${v} keep ${text}`, expr: [saddrIn(s), match(payload(s.family, 'daddr'), dst), ret] })
    }
    const base = [...(r.uplink ? [oif(r.uplink)] : []), saddrIn(s), daddrIn(s, '!=')]
    const fixed = s.family === 'ip' ? r.snat : r.snat6
    for (const proto of ['tcp', 'udp'] as const) {
      rules.push({
        what: `${v} ${fixed ? 'snat' : 'masquerade'} ${proto}`,
        expr: [...base, match(meta('l4proto'), proto), fixed ? snat(s.family, fixed, NAT_PORTS) : masquerade(NAT_PORTS)],
      })
    }
    rules.push({ what: `${v} ${fixed ? 'snat' : 'masquerade'}`, expr: [...base, fixed ? snat(s.family, fixed) : masquerade()] })
  }
  return rules
}

/** Forwards bound to an address or interface first, so a general forward of the same port cannot shadow them. */
function bySpecificity(forwards: readonly CheckedForward[]): CheckedForward[] {
  const rank = (f: CheckedForward): number => (f.hostAddress !== undefined ? 0 : 2) + (f.inInterface !== undefined ? 0 : 1)
  return forwards
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
    .map(({ f }) => f)
}

function dnatRule(f: CheckedForward, chain: 'prerouting' | 'output'): Rule {
  const expr: Stmt[] = []
  if (chain === 'prerouting' && f.inInterface !== undefined) expr.push(iif(f.inInterface))
  if (f.hostAddress !== undefined) expr.push(match(payload(f.family, 'daddr'), f.hostAddress))
  else {
    expr.push(match(meta('nfproto'), f.family === 'ip' ? 'ipv4' : 'ipv6'))
    expr.push(match(fibDaddrType, 'local'))
    // ::1 cannot be forwarded (no route_localnet in IPv6): leave the host's own [::1]:port alone.
    if (chain === 'output' && f.family === 'ip6') expr.push(match(payload('ip6', 'daddr'), '::1', '!='))
  }
  const dport = payload(f.proto, 'dport')
  expr.push(match(dport, f.first === f.last ? f.first : { range: [f.first, f.last] }))
  expr.push(dnat(f.family, f.guest, dnatPort(f, dport)))
  const host = f.first === f.last ? `${f.first}` : `${f.first}-${f.last}`
  const guestLast = f.guestFirst + (f.last - f.first)
  const guestPorts = f.first === f.last ? `${f.guestFirst}` : `${f.guestFirst}-${guestLast}`
  const guest = f.family === 'ip6' ? `[${f.guest}]:${guestPorts}` : `${f.guest}:${guestPorts}`
  return { what: `forward ${f.proto} ${host} -> ${guest}`, expr }
}

function dnatPort(f: CheckedForward, dport: Expr): Expr | undefined {
  if (f.first === f.last) return f.guestFirst
  // Without a port the destination port is kept: a range maps onto itself one to one.
  if (f.guestFirst === f.first) return undefined
  // `to addr:a-b` would pick ANY port of the range; a shifted range needs an explicit port -> port map.
  const pairs: Array<[number, number]> = []
  for (let p = f.first; p <= f.last; p++) pairs.push([p, f.guestFirst + (p - f.first)])
  return anonMap(dport, pairs)
}
