/**
 * Which other firewalls live in a namespace, from one read-only listing of its nftables chains (iptables-nft
 * keeps its tables there too), and iptables-legacy-save where x_tables is loaded:
 *  - Docker: a DOCKER-USER chain in the `filter` table of family ip (iptables) or ip6 (ip6tables), in
 *    nftables or in x_tables (Docker run with iptables-legacy);
 *  - ufw: its ufw-user-input chain in that table (ufw is loaded, i.e. active, in this namespace);
 *  - firewalld: its own table `inet firewalld`;
 *  - anything else whose base chain drops by policy: nobody kvmnet knows, so it is named, never modified.
 */
import { readFileSync } from 'node:fs'
import { FirewallToolError, isNotFound } from '../errors.js'
import { listNftChains } from '../nft/index.js'
import { TABLE_PREFIX } from '../nft/index.js'
import type { NetnsRef } from '../netns/index.js'
import type { Detected, ForeignChain } from './model.js'
import { runTool } from './run.js'
import { native } from '../native/index.js'

export interface ListedChain {
  family: string
  table: string
  name: string
  hook?: string
  policy?: string
}

/** Hooks where a drop policy stops a network's traffic: guests' DHCP/DNS in, dnsmasq's replies out, forwarding, NAT. */
const BLOCKING_HOOKS = new Set(['input', 'forward', 'output', 'prerouting', 'postrouting'])

export async function listChains(ns: NetnsRef): Promise<ListedChain[]> {
  return listNftChains(ns)
}

/** The iptables family a listed chain's table belongs to, when it is iptables-nft's `filter` table. */
function filterFamily(c: { family: string; table: string }): 4 | 6 | undefined {
  if (c.table !== 'filter') return undefined
  return c.family === 'ip' ? 4 : c.family === 'ip6' ? 6 : undefined
}

export function detectFrom(chains: readonly ListedChain[]): Detected {
  const docker = new Set<4 | 6>()
  const ufw = new Set<4 | 6>()
  for (const c of chains) {
    const f = filterFamily(c)
    if (f === undefined) continue
    if (c.name === 'DOCKER-USER') docker.add(f)
    if (c.name === 'ufw-user-input' || c.name === 'ufw6-user-input') ufw.add(f)
  }
  const firewalld = chains.some((c) => c.table === 'firewalld')
  const foreignDrops: ForeignChain[] = []
  for (const c of chains) {
    if (!c.hook || !BLOCKING_HOOKS.has(c.hook) || c.policy !== 'drop' || c.table.startsWith(TABLE_PREFIX)) continue
    if (ownerOf(c, { docker, ufw, firewalld })) continue
    foreignDrops.push({ family: c.family, table: c.table, name: c.name, hook: c.hook, policy: c.policy })
  }
  return { docker: [...docker].sort(), ufw: ufw.size > 0, firewalld, foreignDrops }
}

/** Whose a dropping base chain is, when it is a firewall kvmnet coexists with. */
export function ownerOf(c: ListedChain, by: { docker: ReadonlySet<4 | 6>; ufw: ReadonlySet<4 | 6>; firewalld: boolean }): 'docker' | 'ufw' | 'firewalld' | undefined {
  const f = filterFamily(c)
  // ufw sets the built-in chains' policies of the filter table it manages (and Docker only FORWARD's).
  if (f !== undefined && by.ufw.has(f) && ['INPUT', 'FORWARD', 'OUTPUT'].includes(c.name)) return 'ufw'
  if (f !== undefined && by.docker.has(f) && c.name === 'FORWARD') return 'docker'
  if (by.firewalld && c.table === 'firewalld') return 'firewalld'
  return undefined
}

/** `listed`: the namespace's chains, when the caller has them already. */
export async function detectFirewalls(ns: NetnsRef, listed?: readonly ListedChain[]): Promise<Detected> {
  const [chains, dockerLegacy] = await Promise.all([listed ?? listChains(ns), detectLegacyDocker(ns)])
  const d = detectFrom(chains)
  return dockerLegacy.length > 0 ? { ...d, dockerLegacy } : d
}

/** Whether an iptables-legacy-save listing has DOCKER-USER in its `filter` table. */
export function legacyHasDockerUser(save: string): boolean {
  let table = ''
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim()
    else if (table === 'filter' && line.startsWith(':DOCKER-USER ')) return true
  }
  return false
}

/**
 * The x_tables tables that exist in `ns` (its /proc/net/ip_tables_names, read with the thread inside it):
 * empty where the module is not loaded or no table was ever made there — the module being loaded for the
 * host (by any legacy iptables use) says nothing of this namespace.
 */
export function legacyTableNames(ns: NetnsRef, file: LegacyNamesFile): string {
  return ns.isCurrent ? readTableNames(file) : native.withNetns(ns.path, () => readTableNames(file))
}

type LegacyNamesFile = 'ip_tables_names' | 'ip6_tables_names'

function readTableNames(file: LegacyNamesFile): string {
  try {
    return readFileSync(`/proc/self/net/${file}`, 'utf8')
  } catch (err) {
    if (isNotFound(err)) return ''
    throw err
  }
}

/** legacyTableNames of IPv4 and IPv6 with one switch into the namespace, not one each (every apply reads both). */
function legacyTableNamesBoth(ns: NetnsRef): [string, string] {
  const read = (): [string, string] => [readTableNames('ip_tables_names'), readTableNames('ip6_tables_names')]
  return ns.isCurrent ? read() : native.withNetns(ns.path, read)
}

/**
 * Families in which Docker keeps its chains in x_tables. Where the namespace has no x_tables table at
 * all there is nothing to list and nothing is run; with one, iptables-legacy-save lists only the tables
 * that exist, so reading creates nothing.
 */
export async function detectLegacyDocker(ns: NetnsRef): Promise<(4 | 6)[]> {
  const out: (4 | 6)[] = []
  const names = legacyTableNamesBoth(ns)
  for (const [i, family, tool] of [[0, 4, 'iptables-legacy-save'], [1, 6, 'ip6tables-legacy-save']] as const) {
    if (!names[i].trim()) continue
    let r
    try {
      r = await runTool(ns, tool, [])
    } catch (err) {
      // iptables-legacy not installed (in the current namespace: ENOENT): no Docker can be using it.
      if (err instanceof FirewallToolError && isNotFound(err.cause)) continue
      throw err
    }
    // Not installed (nsenter's 127): as above.
    if (r.exitCode === 127) continue
    if (r.exitCode !== 0) throw new FirewallToolError({ tool, args: [], exitCode: r.exitCode, stderr: r.stderr })
    if (legacyHasDockerUser(r.stdout)) out.push(family)
  }
  return out
}
