/**
 * `nft -j list ruleset` -> the kvmnet tables in it. Only tables named kvmnet_* in the inet family are
 * looked at; forwards are read back from the DNAT rules themselves (not from comments), so what is
 * reported is what the kernel will do.
 */
import type { InstalledChain, InstalledNetworkRules, PortForward } from './model.js'
import { TABLE_FAMILY, tagOfTable } from './names.js'
import type { NftListing, Stmt } from './json.js'

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The kvmnet tables of a listed ruleset, sorted by tag. */
export function parseInstalled(doc: NftListing): InstalledNetworkRules[] {
  const byTable = new Map<string, InstalledNetworkRules>()
  for (const item of doc.nftables ?? []) {
    const t = item['table']
    if (!isObj(t) || t['family'] !== TABLE_FAMILY || typeof t['name'] !== 'string') continue
    const tag = tagOfTable(t['name'])
    if (tag !== undefined) byTable.set(t['name'], { tag, table: t['name'], family: 'inet', chains: [], ruleCount: 0, forwards: [] })
  }
  const chainOf = new Map<string, InstalledChain>()
  for (const item of doc.nftables ?? []) {
    const c = item['chain']
    if (!isObj(c) || c['family'] !== TABLE_FAMILY) continue
    const owner = byTable.get(String(c['table']))
    if (!owner || typeof c['name'] !== 'string') continue
    const chain: InstalledChain = {
      name: c['name'],
      type: typeof c['type'] === 'string' ? c['type'] : undefined,
      hook: typeof c['hook'] === 'string' ? c['hook'] : undefined,
      prio: typeof c['prio'] === 'number' ? c['prio'] : undefined,
      policy: typeof c['policy'] === 'string' ? c['policy'] : undefined,
      rules: 0,
    }
    owner.chains.push(chain)
    chainOf.set(`${owner.table}\0${chain.name}`, chain)
  }
  for (const item of doc.nftables ?? []) {
    const r = item['rule']
    if (!isObj(r) || r['family'] !== TABLE_FAMILY) continue
    const owner = byTable.get(String(r['table']))
    if (!owner) continue
    owner.ruleCount++
    const chain = chainOf.get(`${owner.table}\0${String(r['chain'])}`)
    if (chain) chain.rules++
    if (chain?.hook === 'prerouting' && Array.isArray(r['expr'])) {
      const f = forwardOf(r['expr'])
      if (f) owner.forwards.push(f)
    }
  }
  return [...byTable.values()].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
}

/** The chains of one table of any family (name and rule count only), from a listed ruleset. */
export function chainsOf(doc: NftListing, family: string, table: string): InstalledChain[] {
  const chains = new Map<string, InstalledChain>()
  for (const item of doc.nftables ?? []) {
    const c = item['chain']
    if (isObj(c) && c['family'] === family && c['table'] === table && typeof c['name'] === 'string') chains.set(c['name'], { name: c['name'], rules: 0 })
  }
  for (const item of doc.nftables ?? []) {
    const r = item['rule']
    if (!isObj(r) || r['family'] !== family || r['table'] !== table) continue
    const chain = chains.get(String(r['chain']))
    if (chain) chain.rules++
  }
  return [...chains.values()]
}

/** The forward a DNAT rule implements, or undefined if the rule is not one kvmnet writes. */
export function forwardOf(expr: readonly unknown[]): PortForward | undefined {
  let proto: 'tcp' | 'udp' | undefined
  let hostPort: number | [number, number] | undefined
  let hostAddress: string | undefined
  let inInterface: string | undefined
  let dnat: Obj | undefined
  for (const s of expr) {
    if (!isObj(s)) continue
    if (isObj(s['dnat'])) dnat = s['dnat']
    const m = s['match']
    if (!isObj(m) || m['op'] !== '==' || !isObj(m['left'])) continue
    const left = m['left']
    const right = m['right']
    const meta = isObj(left['meta']) ? left['meta'] : undefined
    const pl = isObj(left['payload']) ? left['payload'] : undefined
    if (meta?.['key'] === 'iifname' && typeof right === 'string') inInterface = right
    else if (pl && (pl['protocol'] === 'tcp' || pl['protocol'] === 'udp') && pl['field'] === 'dport') {
      proto = pl['protocol']
      hostPort = portsOf(right)
    } else if (pl && (pl['protocol'] === 'ip' || pl['protocol'] === 'ip6') && pl['field'] === 'daddr' && typeof right === 'string') {
      hostAddress = right
    }
  }
  if (!dnat || !proto || hostPort === undefined || typeof dnat['addr'] !== 'string') return undefined
  const first = typeof hostPort === 'number' ? hostPort : hostPort[0]
  const f: PortForward = { proto, hostPort, guest: dnat['addr'], guestPort: guestPortOf(dnat['port'], first) }
  if (hostAddress !== undefined) f.hostAddress = hostAddress
  if (inInterface !== undefined) f.inInterface = inInterface
  return f
}

function portsOf(v: unknown): number | [number, number] | undefined {
  if (typeof v === 'number') return v
  if (isObj(v) && Array.isArray(v['range']) && typeof v['range'][0] === 'number' && typeof v['range'][1] === 'number') {
    return [v['range'][0], v['range'][1]]
  }
  return undefined
}

/** The first guest port: the DNAT port, the first value of a port map, or (no port) the host port kept. */
function guestPortOf(port: unknown, hostFirst: number): number {
  if (typeof port === 'number') return port
  const map = isObj(port) && isObj(port['map']) ? port['map'] : undefined
  const data = map && isObj(map['data']) ? map['data'] : undefined
  const set = data?.['set']
  if (Array.isArray(set)) {
    const pairs = set.filter((p): p is [number, number] => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number')
    const firstPair = pairs.sort((a, b) => a[0] - b[0])[0]
    if (firstPair) return firstPair[1]
  }
  return hostFirst
}

/** A rule of kvmnet's table as the kernel lists it: its chain, its comment and its statements. */
export interface ListedRule {
  family: string
  chain: string
  comment: string | undefined
  /** The statements, in nft's JSON — equal to what json.ts's builders make for the same rule. */
  expr: readonly Stmt[]
}

/** The rules of one table from a listing (`nft -j list table …`), in order. */
export function rulesOf(doc: NftListing, family: string, table: string): ListedRule[] {
  const out: ListedRule[] = []
  for (const item of doc.nftables ?? []) {
    const r = item['rule']
    if (!isObj(r) || r['family'] !== family || r['table'] !== table || !Array.isArray(r['expr'])) continue
    // Each statement is one object of nft's own JSON; kvmnet compares them, it never executes them.
    const expr: Stmt[] = r['expr'].filter(isObj).map((s) => s as Stmt)
    out.push({ family, chain: String(r['chain']), comment: typeof r['comment'] === 'string' ? r['comment'] : undefined, expr })
  }
  return out
}
