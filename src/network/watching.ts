/**
 * The handle's self-healing (`watch: true`): one NetworkWatcher at a time, started after a successful
 * `up` and stopped by `down` or `close`. A start still under way when the handle stops is dropped when it
 * completes (the epoch tells), so a closed handle never keeps sockets open.
 */
import type { NetnsRef } from '../netns/index.js'
import { tableName } from '../nft/index.js'
import type { Rtnl } from '../rtnl/index.js'
import { NetworkWatcher, type Loss, type WatcherHooks } from '../watch/index.js'
import type { PlannedNetwork } from './kinds/index.js'

export class Watching {
  private watcher: NetworkWatcher | undefined
  private starting: Promise<void> | undefined
  /** Bumped by every stop: a watcher whose start was under way when the handle stopped is dropped. */
  private epochValue = 0

  /** Bumped by every stop: a repair that started in an earlier epoch is cancelled. */
  get epoch(): number {
    return this.epochValue
  }

  get active(): boolean {
    return this.watcher?.watching ?? false
  }

  async start(hooks: WatcherHooks): Promise<void> {
    if (this.watcher?.watching) return
    const epoch = this.epochValue
    this.starting ??= NetworkWatcher.start(hooks)
      .then((w) => {
        if (epoch === this.epochValue) this.watcher = w
        else void w.stop()
      })
      .finally(() => {
        this.starting = undefined
      })
    await this.starting
  }

  /** Resolves once a repair under way has ended (a repair that has not started changing things is cancelled). */
  stop(): Promise<void> {
    this.epochValue++
    const stopped = this.watcher?.stop()
    this.watcher = undefined
    return stopped ?? Promise.resolve()
  }

  /** This handle's own changes are not losses: muted while it holds the network's lock. */
  mute(): { unmute(): Promise<void> } {
    const w = this.watcher
    w?.mute()
    return { unmute: async () => w?.unmute() }
  }

  /** A loss seen elsewhere (the dnsmasq supervisor saw its child die). */
  note(loss: Loss): void {
    this.watcher?.note(loss)
  }
}

/** What the watcher asks of a network: its plan's targets and links, and how to repair it. */
export interface WatchedNetwork {
  ns: NetnsRef
  planned(): PlannedNetwork
  rtnl(): Rtnl
  repair: WatcherHooks['repair']
  repaired: WatcherHooks['repaired']
  failed: WatcherHooks['failed']
}

export function watcherHooks(n: WatchedNetwork): WatcherHooks {
  return {
    ns: n.ns,
    targets: () => n.planned().watchTargets(),
    seed: async () => {
      const found = await Promise.all([...n.planned().linkNames].map((name) => n.rtnl().findLink(name)))
      return found.filter((l): l is NonNullable<typeof l> => l !== undefined).map((l) => ({ index: l.index, name: l.name }))
    },
    repair: n.repair,
    repaired: n.repaired,
    failed: n.failed,
    names: () => {
      const tag = n.planned().firewall?.tag
      return { table: tag === undefined ? undefined : tableName(tag), bridge: n.planned().bridge }
    },
  }
}
