/**
 * Garbage collection after crashes, for one state root (its owner tag is in every link alias it made):
 *  - a network whose namespace is gone: its dnsmasq (which kept the namespace alive) is stopped, after the
 *    identity checks, and its state removed;
 *  - a network whose supervising process died, or whose apply was cut short (the journal names an applier
 *    that is gone): taken down from its state, in whatever namespace it lives;
 *  - links in the target namespace tagged with this root for a network this root has no state for, and
 *    the nft tables of those networks: removed.
 * A detached network (plain `kvmnet up`) is meant to outlive its creator and is left alone, and nothing
 * another state root owns — a live network of another process using another root — is touched.
 */
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { BusyError } from '../errors.js'
import { acquireLock } from '../lock/index.js'
import { Netns } from '../netns/index.js'
import { Rtnl } from '../rtnl/index.js'
import { Nft, learnTableName } from '../nft/index.js'
import { parseAlias, rootTag } from './names.js'
import { openNetwork } from './network.js'
import { dirEntries } from '../util/index.js'
import { DEFAULT_STATE_ROOT, listStates, namespaceAlive, namespacePath, netnsIdentity, ownerAlive, removeEmptyParents, removeState, type NetworkState } from './state.js'
import { stopStrayDnsmasqs } from './steps/stray-dnsmasq.js'
import { forgetSysctlLedger } from './sysctl-ledger.js'
import { sweepCoexist } from '../coexist/index.js'

export interface GcReport {
  /** Networks taken down because their owner process, or the process applying them, is gone. */
  networks: string[]
  /** Networks whose namespace was deleted under them: their dnsmasq stopped and state removed. */
  orphaned: string[]
  /** Links removed that no network of this state root claims. */
  links: string[]
  /** nft tables removed along with such links. */
  tables: string[]
  /** Rules tagged kvmnet:<network> removed from other firewalls (DOCKER-USER, ufw) along with such links. */
  coexistRules: number
  /**
   * Networks whose state file cannot be read (truncated, garbage, of the wrong shape, unreadable): counted
   * as live — none of their links, tables or rules is touched — and named here with the file and why.
   */
  unreadable: { network: string; path: string; reason: string }[]
  errors: string[]
}

/** Why a network with state is to be collected, or undefined while it is someone's. */
async function verdict(state: NetworkState): Promise<'namespace-gone' | 'owner-dead' | 'apply-cut-short' | undefined> {
  if (!namespaceAlive(state)) return 'namespace-gone'
  if (state.applying && !(await ownerAlive(state.applying))) return 'apply-cut-short'
  if (state.owner !== undefined && !(await ownerAlive(state.owner))) return 'owner-dead'
  return undefined
}

/** Remove the lock file of a network directory that has no state, unless someone holds it right now. */
export async function clearStaleLock(stateDir: string): Promise<void> {
  if (!existsSync(`${stateDir}.lock`) || existsSync(join(stateDir, 'network.json'))) return
  try {
    const lock = await acquireLock(`${stateDir}.lock`, { timeoutMs: 0, what: 'stale lock' })
    lock.release({ remove: true })
    await removeEmptyParents(stateDir)
  } catch (err) {
    if (!(err instanceof BusyError)) throw err
  }
}

export async function gc(options: { netns?: Netns | string; stateRoot?: string } = {}): Promise<GcReport> {
  const ns = options.netns instanceof Netns ? options.netns : options.netns ? Netns.open(options.netns) : Netns.current()
  const root = options.stateRoot ?? DEFAULT_STATE_ROOT
  const out: GcReport = { networks: [], orphaned: [], links: [], tables: [], coexistRules: 0, unreadable: [], errors: [] }
  const here = netnsIdentity(ns)
  // Networks of this root that live on in the target namespace: their links and tables are theirs.
  const live = new Set<string>()

  const listing = await listStates(root)
  for (const u of listing.unreadable) {
    // Whose it is cannot be told from the file, so it is everyone's: its name keeps its links and table.
    live.add(u.name)
    out.unreadable.push({ network: u.name, path: u.error.path, reason: u.error.message })
  }
  for (const { dir, state } of listing.states) {
    const why = await verdict(state)
    if (why === 'namespace-gone') {
      try {
        if (state.dnsmasq) await stopStrayDnsmasqs(null, state.dnsmasq.stateDir)
        // Its lock file too: nobody can be applying to a namespace that no longer exists; and with the
        // namespace's last network, its sysctl ledger (the sysctls went with the namespace).
        await rm(`${dir}.lock`, { force: true })
        await forgetSysctlLedger(dir, state.name)
        await removeState(dir)
        out.orphaned.push(state.name)
      } catch (err) {
        out.errors.push(`${state.name}: ${(err as Error).message}`)
      }
      continue
    }
    if (!why) {
      if (state.netnsId === here) live.add(state.name)
      continue
    }
    try {
      const net = await openNetwork(state.name, { netns: Netns.open(namespacePath(state) ?? state.netnsPath), stateRoot: root })
      await net.down()
      out.networks.push(state.name)
    } catch (err) {
      out.errors.push(`${state.name}: ${(err as Error).message}`)
      if (state.netnsId === here) live.add(state.name)
    }
  }

  // Lock files of networks that have no state (a process killed after taking the lock, before writing
  // its journal): removed once nobody holds them.
  for (const label of await dirEntries(root)) {
    for (const f of await dirEntries(join(root, label))) {
      if (!f.endsWith('.lock')) continue
      const name = f.slice(0, -'.lock'.length)
      if (existsSync(join(root, label, name, 'network.json'))) continue
      await clearStaleLock(join(root, label, name))
    }
  }

  const tag = rootTag(root)
  const swept = new Set<string>()
  const rtnl = Rtnl.open(ns)
  try {
    // Ports before bridges: deleting a bridge first would only make its ports' deletion fail.
    const tagged = (await rtnl.listLinks())
      .map((link) => ({ link, owner: parseAlias(link.alias) }))
      .filter((x) => x.owner !== undefined && x.owner.root === tag && !live.has(x.owner.network))
      .sort((a, b) => Number(a.link.kind === 'bridge') - Number(b.link.kind === 'bridge'))
    for (const { link, owner } of tagged) {
      try {
        await rtnl.deleteLink(link.index)
        out.links.push(link.name)
        if (owner) swept.add(owner.network)
      } catch (err) {
        out.errors.push(`${link.name}: ${(err as Error).message}`)
      }
    }
  } finally {
    rtnl.close()
  }

  // A table is only known to be this root's through its network's links: remove those that went with them.
  const nft = new Nft(ns)
  for (const t of await nft.list()) {
    if (!swept.has(t.tag) || live.has(t.tag)) continue
    try {
      await nft.remove(t.tag)
      out.tables.push(t.tag)
    } catch (err) {
      out.errors.push(`nft ${t.tag}: ${(err as Error).message}`)
    }
  }
  // Their address-learning tables (bridge and macvtap networks have no inet table to be found by).
  for (const learnTag of await nft.learningTags()) {
    if (!swept.has(learnTag) || live.has(learnTag)) continue
    try {
      await nft.removeLearning(learnTag)
      out.tables.push(learnTableName(learnTag))
    } catch (err) {
      out.errors.push(`nft learning ${learnTag}: ${(err as Error).message}`)
    }
  }
  // Their rules in Docker's DOCKER-USER and in ufw, found by the tag kvmnet gave them.
  for (const name of swept) {
    if (live.has(name)) continue
    try {
      out.coexistRules += await sweepCoexist(ns, name)
    } catch (err) {
      out.errors.push(`coexist ${name}: ${(err as Error).message}`)
    }
  }
  return out
}
