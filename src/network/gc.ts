/**
 * Garbage collection after crashes: a network whose supervising process (kvmnet up --foreground, or an
 * API user with supervised dnsmasq) died is taken down from its state; links, nft tables and state
 * directories tagged kvmnet that no live network claims are removed. Detached networks (plain
 * `kvmnet up`) are meant to outlive their creator and are left alone.
 */
import { existsSync } from 'node:fs'
import { Netns } from '../netns/index.js'
import { nsLabel } from '../netns/exec.js'
import { Rtnl } from '../rtnl/index.js'
import { Nft } from '../nft/index.js'
import { parseAlias } from './names.js'
import { openNetwork } from './network.js'
import { DEFAULT_STATE_ROOT, listStates, ownerAlive, removeState } from './state.js'

export interface GcReport {
  /** Networks taken down because their owner process is gone. */
  networks: string[]
  /** Links removed that no network claimed. */
  links: string[]
  /** nft tables removed that no network claimed (by tag). */
  tables: string[]
  errors: string[]
}

export async function gc(options: { netns?: Netns | string; stateRoot?: string } = {}): Promise<GcReport> {
  const ns = options.netns instanceof Netns ? options.netns : options.netns ? Netns.open(options.netns) : Netns.current()
  const root = options.stateRoot ?? DEFAULT_STATE_ROOT
  const label = nsLabel(ns)
  const out: GcReport = { networks: [], links: [], tables: [], errors: [] }

  const live = new Set<string>()
  for (const { dir, state } of await listStates(root, label)) {
    const orphaned = state.owner !== undefined && !(await ownerAlive(state.owner))
    const nsGone = !existsSync(state.netnsPath)
    if (nsGone) {
      await removeState(dir)
      out.networks.push(state.name)
      continue
    }
    if (!orphaned) {
      live.add(state.name)
      continue
    }
    try {
      const net = await openNetwork(state.name, { netns: ns, stateRoot: root })
      await net.down()
      out.networks.push(state.name)
    } catch (err) {
      out.errors.push(`${state.name}: ${(err as Error).message}`)
      live.add(state.name)
    }
  }

  const rtnl = Rtnl.open(ns)
  try {
    for (const link of await rtnl.listLinks()) {
      const tag = parseAlias(link.alias)
      if (!tag || live.has(tag.network)) continue
      try {
        await rtnl.deleteLink(link.index)
        out.links.push(link.name)
      } catch (err) {
        out.errors.push(`${link.name}: ${(err as Error).message}`)
      }
    }
  } finally {
    rtnl.close()
  }

  const nft = new Nft(ns)
  for (const t of await nft.list()) {
    if (live.has(t.tag)) continue
    try {
      await nft.remove(t.tag)
      out.tables.push(t.tag)
    } catch (err) {
      out.errors.push(`nft ${t.tag}: ${(err as Error).message}`)
    }
  }
  return out
}
