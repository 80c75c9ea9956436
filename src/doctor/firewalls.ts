/**
 * doctor's view of the other firewalls in a namespace: foreign nftables drop policies, Docker, ufw,
 * firewalld and rules left in iptables-legacy. Read-only: chain listings, iptables-save, nft listings (in
 * process through libnftables where it can be loaded).
 */
import { ignoreNotFound } from '../errors.js'
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import type { NetnsRef } from '../netns/index.js'
import { nsCommand } from '../netns/index.js'
import { runProgram } from '../util/index.js'
import { Nft, NftError } from '../nft/index.js'
import { readSysctl } from '../rtnl/index.js'
import { detectFrom, legacyTableNames, type ListedChain } from '../coexist/index.js'
import { DOCKER_USER, dockerFixCommands, dockerRulesPresent } from '../coexist/index.js'
import { firewalldFixCommands } from '../coexist/index.js'
import { splitRuleLine } from '../coexist/index.js'
import { ufwArgs, ufwRules } from '../coexist/index.js'
import type { CoexistTarget } from '../coexist/index.js'
import type { Finding } from './findings.js'

/** A network doctor looks at, with what coexistence would add for it (whether or not it is on). */
export interface Examined {
  name: string
  target: CoexistTarget
  coexist: boolean
}

async function run(ns: NetnsRef, cmd: string, args: string[]): Promise<{ ok: boolean; stdout: string }> {
  const c = nsCommand(ns, cmd, args)
  const r = await runProgram(c.file, c.args, { timeoutMs: 15_000, env: { LC_ALL: 'C' } })
  return { ok: r.exitCode === 0, stdout: r.stdout }
}

function chainLabel(c: ListedChain): string {
  return `${c.family} ${c.table} ${c.name} (hook ${c.hook ?? '-'}, policy ${c.policy ?? '-'})`
}

export async function firewallFindings(ns: NetnsRef, chains: readonly ListedChain[], nets: readonly Examined[]): Promise<Finding[]> {
  const findings: Finding[] = []
  const d = detectFrom(chains)
  const by = { docker: new Set(d.docker), ufw: new Set<4 | 6>(chains.filter((c) => c.table === 'filter' && /^ufw6?-user-input$/.test(c.name)).map((c) => (c.family === 'ip6' ? 6 : 4) as 4 | 6)), firewalld: d.firewalld }
  const bridges = nets.map((n) => n.target.bridge)
  const unfixedForward: string[] = []

  // Base chains of tables no firewall kvmnet knows owns, dropping by policy: named, never modified.
  for (const c of d.foreignDrops) {
    const object = `${c.family} ${c.table} ${c.name} (hook ${c.hook}, policy drop)`
    if (c.hook === 'forward') unfixedForward.push(object)
    const accepts = bridges.length ? bridges.map((b) => `iifname "${b}" accept; oifname "${b}" accept`).join('; ') : 'iifname "kvbr-*" accept'
    findings.push({ code: 'nft-foreign-drop', severity: c.hook === 'forward' || c.hook === 'input' ? 'error' : 'warning', object, problem: `another table's ${c.hook} chain drops what it does not accept, kvmnet's networks included (kvmnet does not modify tables it does not own)`, fix: `accept the bridges in ${c.family} ${c.table} ${c.name} (${accepts}), or use that firewall's own configuration` })
  }

  // Docker: FORWARD policy DROP; fixed by kvmnet when its DOCKER-USER accepts are in place for every network.
  for (const family of d.docker) {
    const fwd = chains.find((c) => c.family === (family === 4 ? 'ip' : 'ip6') && c.table === 'filter' && c.name === 'FORWARD')
    if (!fwd || fwd.policy !== 'drop') continue
    const object = `${chainLabel(fwd)}, Docker (${DOCKER_USER})`
    const missing: Examined[] = []
    for (const n of nets) if (!(await dockerRulesPresent(ns, family, n.target))) missing.push(n)
    if (nets.length > 0 && missing.length === 0) {
      findings.push({ code: 'docker-forward-drop', severity: 'info', object, problem: `Docker's FORWARD policy DROP would drop the networks' traffic: fixed by kvmnet (${DOCKER_USER} accepts ${bridges.join(', ')}, tagged kvmnet:<network>)`, fix: 'none needed' })
      continue
    }
    unfixedForward.push(object)
    const fix = missing.length ? missing.flatMap((n) => dockerFixCommands(n.target, family)).join('; ') : `${family === 4 ? 'iptables' : 'ip6tables'} -I ${DOCKER_USER} -i <bridge> -j ACCEPT; ${family === 4 ? 'iptables' : 'ip6tables'} -I ${DOCKER_USER} -o <bridge> -j ACCEPT`
    findings.push({ code: 'docker-forward-drop', severity: 'error', ...(missing.length === 1 ? { network: missing[0]?.name } : {}), object, problem: `Docker's FORWARD policy DROP drops guests' forwarded traffic${missing.length ? ` (${missing.map((n) => n.target.bridge).join(', ')} not accepted in ${DOCKER_USER})` : ''}`, fix: `${fix} (or kvmnet up the network again with firewall.coexist on, the default)` })
  }

  if (by.ufw.size > 0) unfixedForward.push(...(await ufwFindings(ns, findings, nets)))
  if (d.firewalld) await firewalldFindings(ns, findings, nets)
  await legacyFindings(ns, findings, nets)

  // br_netfilter: bridged guest <-> guest frames cross the forward hook too.
  const brNf = (await readSysctl(ns, 'net/bridge/bridge-nf-call-iptables').catch(() => '0')).trim()
  if (brNf === '1' && unfixedForward.length > 0 && nets.length > 0) {
    findings.push({ code: 'br-netfilter-drop', severity: 'error', object: `net.bridge.bridge-nf-call-iptables=1 with ${unfixedForward.join('; ')}`, problem: "bridged guest <-> guest frames cross the forward hook, where another firewall's drop policy drops them", fix: 'accept the bridges in that forward chain (see the findings above), or set net.bridge.bridge-nf-call-iptables=0 if nothing needs it' })
  }
  return findings
}

/** The rules of an iptables-save listing, by chain: each rule's words after `-A CHAIN`; and the built-in chains' policies. */
function parseSave(text: string): { policies: Map<string, string>; rules: Map<string, string[][]> } {
  const policies = new Map<string, string>()
  const rules = new Map<string, string[][]>()
  for (const line of text.split('\n')) {
    const p = line.match(/^:(\S+) (\S+) /)
    if (p?.[1] && p[2]) {
      policies.set(p[1], p[2])
      continue
    }
    const w = splitRuleLine(line)
    if (w[0] !== '-A' || !w[1]) continue
    const list = rules.get(w[1]) ?? []
    list.push(w.slice(2))
    rules.set(w[1], list)
  }
  return { policies, rules }
}

function opt(rule: readonly string[], name: string): string | undefined {
  const i = rule.indexOf(name)
  return i >= 0 ? rule[i + 1] : undefined
}

/** Does an ACCEPT rule of `rules` let `proto`/`port` in from `bridge`? (ufw's user rules: -i, -p, --dport.) */
function inputAllowed(rules: readonly string[][], bridge: string, proto: 'tcp' | 'udp' | 'any', port: number): boolean {
  // ufw spells a rule for both protocols as one rule per protocol.
  if (proto === 'any' && inputAllowed(rules, bridge, 'tcp', port) && inputAllowed(rules, bridge, 'udp', port)) return true
  return rules.some((r) => {
    if (opt(r, '-j') !== 'ACCEPT' || (opt(r, '-i') ?? bridge) !== bridge || r.includes('-s') || r.includes('-d')) return false
    const p = opt(r, '-p')
    const dport = opt(r, '--dport') ?? opt(r, '--dports')
    if (dport !== undefined && !dport.split(',').some((x) => portIn(x, port))) return false
    if (p !== undefined && proto !== 'any' && p !== proto) return false
    // A rule for one protocol does not cover 'any' (DNS: udp and tcp).
    if (p !== undefined && proto === 'any') return false
    return true
  })
}

function portIn(spec: string, port: number): boolean {
  const [a, b] = spec.split(':').map(Number)
  return b === undefined ? a === port : port >= (a ?? 0) && port <= b
}

function forwardAllowed(rules: readonly string[][], bridge: string, dir: 'in' | 'out' | 'both'): boolean {
  return rules.some((r) => {
    if (opt(r, '-j') !== 'ACCEPT' || r.includes('-s') || r.includes('-d') || r.includes('-p')) return false
    const i = opt(r, '-i')
    const o = opt(r, '-o')
    if (dir === 'in') return i === bridge && o === undefined
    if (dir === 'out') return o === bridge && i === undefined
    return (i === bridge || i === undefined) && (o === bridge || o === undefined) && (i !== undefined || o !== undefined)
  })
}

/** ufw: active (its chains loaded), default incoming and routed policies, and whether each bridge is allowed. */
async function ufwFindings(ns: NetnsRef, findings: Finding[], nets: readonly Examined[]): Promise<string[]> {
  const save = await run(ns, 'iptables-nft-save', ['-t', 'filter'])
  const { policies, rules } = parseSave(save.stdout)
  const incoming = policies.get('INPUT') === 'DROP' ? 'deny' : 'allow'
  const routed = policies.get('FORWARD') === 'DROP' ? 'deny' : 'allow'
  const state = `ufw active (default incoming ${incoming}, routed ${routed})`
  const userIn = rules.get('ufw-user-input') ?? []
  const userFwd = rules.get('ufw-user-forward') ?? []
  const unfixed: string[] = []
  let blocked = false
  for (const n of nets) {
    const b = n.target.bridge
    const needIn = incoming === 'deny' ? n.target.hostPorts.filter((p) => !inputAllowed(userIn, b, p.proto, p.port)) : []
    const routedOk = routed === 'allow' || (n.target.scope === 'routed' ? forwardAllowed(userFwd, b, 'in') && forwardAllowed(userFwd, b, 'out') : forwardAllowed(userFwd, b, 'both') || forwardAllowed(userFwd, b, 'in'))
    const wanted = ufwRules(n.target)
    const cmd = (filter: (r: string) => boolean) => wanted.filter(filter).map((r) => `ufw ${ufwArgs(r, n.name, 'add').join(' ')}`).join('; ')
    if (needIn.length > 0) {
      blocked = true
      findings.push({ code: 'ufw-input-drop', severity: 'error', network: n.name, object: `${state}: ip filter INPUT policy DROP, ufw-user-input allows nothing of ${needIn.map((p) => `${p.proto === 'any' ? '' : `${p.proto}/`}${p.port}`).join(', ')} on ${b}`, problem: `guests of ${n.name} get no ${needIn.some((p) => p.port === 67) ? 'DHCP' : 'host service'}: ufw's default incoming policy drops it`, fix: `${cmd((r) => r.startsWith('allow '))}${n.coexist ? '' : ' (or firewall.coexist on, the default)'}` })
    }
    if (!routedOk) {
      blocked = true
      unfixed.push(`ufw (ip filter FORWARD policy DROP, ${b} not allowed)`)
      findings.push({ code: 'ufw-routed-drop', severity: 'error', network: n.name, object: `${state}: ip filter FORWARD policy DROP, ufw-user-forward does not allow ${b}`, problem: `guests of ${n.name} reach neither the outside nor (with br_netfilter) each other: ufw's routed policy drops it`, fix: cmd((r) => r.startsWith('route ')) })
    }
  }
  if (!blocked) findings.push({ code: 'ufw-active', severity: 'info', object: state, problem: nets.length ? `ufw lets ${nets.map((n) => n.target.bridge).join(', ')} through (route and input allowances in place)` : 'ufw is active', fix: 'none needed' })
  return unfixed
}

interface NftRuleJson {
  rule?: { chain: string; expr: Record<string, unknown>[] }
}

/** The zone firewalld dispatches an interface's input to, from its own table (filter_INPUT_ZONES). */
export function firewalldZoneOf(doc: { nftables: NftRuleJson[] }, iface: string): { zone: string; explicit: boolean } | undefined {
  for (const x of doc.nftables) {
    const expr = x.rule?.expr
    if (!expr) continue
    const target = (expr.find((e) => 'goto' in e)?.goto as { target?: string } | undefined)?.target
    if (!target?.startsWith('filter_IN_')) continue
    const matches = expr.filter((e) => 'match' in e).map((e) => e.match as { left?: { meta?: { key?: string } }; right?: unknown })
    if (matches.length === 0) return { zone: target.slice('filter_IN_'.length), explicit: false }
    const ifm = matches.find((m) => m.left?.meta?.key === 'iifname')
    if (!ifm || matches.length > 1 || typeof ifm.right !== 'string') continue
    const r = ifm.right
    if (r === iface || (r.endsWith('*') && iface.startsWith(r.slice(0, -1)))) return { zone: target.slice('filter_IN_'.length), explicit: true }
  }
  return undefined
}

/** firewalld's filter_INPUT_ZONES chain as nft lists it; empty when firewalld has no such chain (nft refuses). */
async function firewalldInputZones(ns: NetnsRef): Promise<unknown[]> {
  try {
    return (await new Nft(ns).query(['list', 'chain', 'inet', 'firewalld', 'filter_INPUT_ZONES'])).nftables
  } catch (err) {
    // No table or chain of that name: nothing to read the zones from, the same as before firewalld loads.
    if (err instanceof NftError && err.exitCode !== undefined) return []
    throw err
  }
}

/** firewalld: its table (and process, when one runs in this namespace) and the zone each bridge is in. */
async function firewalldFindings(ns: NetnsRef, findings: Finding[], nets: readonly Examined[]): Promise<void> {
  const doc = { nftables: (await firewalldInputZones(ns)) as NftRuleJson[] }
  const pids = firewalldPids(ns)
  const who = `inet firewalld${pids.length ? ` (firewalld pid ${pids.join(', ')})` : ' (no firewalld process in this namespace)'}`
  let blocked = false
  for (const n of nets) {
    if (!n.target.zone) continue
    const z = firewalldZoneOf(doc, n.target.bridge)
    if (z?.explicit && (z.zone === 'trusted' || z.zone === 'libvirt')) continue
    blocked = true
    findings.push({
      code: 'firewalld-zone',
      severity: z?.explicit ? 'warning' : 'error',
      network: n.name,
      object: `${who}: ${n.target.bridge} ${z?.explicit ? `in zone ${z.zone}` : `in no zone (default zone ${z?.zone ?? 'unknown'})`}`,
      problem: `firewalld's ${z?.zone ?? 'default'} zone rejects what it does not allow: ${n.name}'s DHCP, DNS and forwarded traffic`,
      fix: firewalldFixCommands(n.target.bridge).join('; '),
    })
  }
  if (!blocked) findings.push({ code: 'firewalld-active', severity: 'info', object: who, problem: nets.length ? `${nets.map((n) => n.target.bridge).join(', ')} in a zone that lets them through` : 'firewalld is running', fix: 'none needed' })
}

/** Pids of firewalld processes in the namespace (its command line names firewalld; it runs under python). */
function firewalldPids(ns: NetnsRef): number[] {
  let want: string
  try {
    want = `net:[${statSync(ns.path).ino}]`
  } catch {
    return []
  }
  const out: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')
      if (!argv.slice(0, 3).some((a) => /(^|\/)firewalld$/.test(a))) continue
      if (readlinkSync(`/proc/${p}/ns/net`) === want) out.push(Number(p))
    } catch (err) {
      // A process that ended while the list was read has nothing left to look at.
      ignoreNotFound(err)
    }
  }
  return out
}

/**
 * iptables-legacy: x_tables rules are enforced beside nftables and invisible to `nft list ruleset`.
 * Docker's chains there are handled by kvmnet's coexistence like its nft ones: fixed when every network's
 * DOCKER-USER accepts are in place. iptables-legacy-save only lists tables that exist, so reading it
 * creates nothing.
 */
async function legacyFindings(ns: NetnsRef, findings: Finding[], nets: readonly Examined[]): Promise<void> {
  for (const [tool, fam, family, names] of [['iptables-legacy-save', 'ip', 4, 'ip_tables_names'], ['ip6tables-legacy-save', 'ip6', 6, 'ip6_tables_names']] as const) {
    // No x_tables table in this namespace (its /proc/net/ip_tables_names): nothing to list, nothing run.
    if (!legacyTableNames(ns, names).trim()) continue
    const r = await run(ns, tool, [])
    if (!r.ok) continue
    const lines = r.stdout.split('\n').filter((l) => l.trim() && !l.startsWith('#'))
    if (lines.length === 0) continue
    const tables = lines.filter((l) => l.startsWith('*')).map((l) => l.slice(1))
    const rules = lines.filter((l) => l.startsWith('-A ')).length
    const drops = lines.filter((l) => /^:(INPUT|FORWARD|OUTPUT) DROP/.test(l)).map((l) => `${l.slice(1).split(' ')[0]} policy DROP`)
    const blocking = drops.length > 0 || lines.some((l) => l.startsWith('-A ') && /-j (DROP|REJECT)\b/.test(l))
    const docker = lines.some((l) => l.startsWith(`:${DOCKER_USER} `))
    const base = tool.replace('-save', '')
    let fixed = nets.length > 0 && docker
    for (const n of nets) if (fixed && !(await dockerRulesPresent(ns, family, n.target, 'legacy'))) fixed = false
    if (fixed) {
      findings.push({ code: 'iptables-legacy', severity: 'info', object: `${tool}: ${fam} tables ${tables.join(', ')} (${rules} rule${rules === 1 ? '' : 's'}${drops.length ? `, ${drops.join(', ')}` : ''}), Docker uses iptables-legacy`, problem: `Docker's iptables-legacy rules would drop the networks' traffic: fixed by kvmnet (${DOCKER_USER} accepts ${nets.map((n) => n.target.bridge).join(', ')} through ${base}, tagged kvmnet:<network>)`, fix: 'none needed' })
      continue
    }
    findings.push({
      code: 'iptables-legacy',
      severity: blocking ? 'error' : 'warning',
      object: `${tool}: ${fam} tables ${tables.join(', ')} (${rules} rule${rules === 1 ? '' : 's'}${drops.length ? `, ${drops.join(', ')}` : ''})${docker ? ', Docker uses iptables-legacy' : ''}`,
      problem: `iptables-legacy rules are enforced beside nftables, invisible to nft list ruleset${docker ? ` (Docker's ${DOCKER_USER} there lacks kvmnet's accepts for a network)` : ''}`,
      fix: docker
        ? `kvmnet up the networks again with firewall.coexist on (the default), or accept the bridges there: ${base} -I ${DOCKER_USER} -i <bridge> -j ACCEPT; ${base} -I ${DOCKER_USER} -o <bridge> -j ACCEPT`
        : `move them to nftables (${tool} > rules; ${tool.replace('legacy', 'nft').replace('-save', '-restore')} < rules), then clear legacy (${base} -P INPUT ACCEPT; ${base} -P FORWARD ACCEPT; ${base} -F; ${base} -X)`,
    })
  }
}
