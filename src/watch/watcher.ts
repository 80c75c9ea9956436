/**
 * Self-healing for one network: the kernel tells what changed (rtnetlink's link, address and tc groups,
 * nf_tables' change group, on sockets opened inside the network's namespace), changes that leave the
 * network short of its plan are collected as losses, and a short quiet time after the first one the
 * network is re-converged — the same `up` of the recorded spec that repairs drift by hand. What the
 * converge repaired is reported with the time from the loss being noticed to the repair being done.
 *
 * Nothing polls: between changes the watcher sleeps on its sockets.
 *
 * kvmnet's own changes must not look like losses, or every repair would trigger the next. The network
 * mutes the watcher while it holds its lock (any apply, change or repair of this handle); unmuting waits
 * for a barrier on both sockets (a request whose answer queues behind every notification already sent),
 * so the notifications of its own changes are all read before listening resumes. What looked like a loss
 * meanwhile is not dropped but rechecked by one more converge: someone else's change may have landed in
 * the middle of kvmnet's own. Changes
 * by another kvmnet process show up as a table replaced in one transaction (not a loss) or as links and
 * addresses of the plan appearing (never a loss). A converge that finds nothing to repair changes nothing,
 * so it cannot feed a loop either.
 */
import type { NetnsRef } from '../netns/index.js'
import { NetlinkSubscription } from '../rtnl/index.js'
import { encodeGetLink } from '../rtnl/index.js'
import type { StepTiming } from '../util/index.js'
import { confirmedRepairs, lossesFromSteps } from './confirm.js'
import { LossClassifier, type Loss, type LossKind } from './losses.js'
import { NETLINK_NETFILTER, NFNLGRP_NFTABLES, decodeNftNotification, encodeGetGen } from './nft-notification.js'
import { RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_LINK, RTNLGRP_TC, decodeRtnlNotification } from './rtnl-notification.js'
import type { WatchTargets } from './targets.js'
import { monotonicMs } from '../util/index.js'

export interface RepairedEvent {
  kind: LossKind
  /** 'nft table kvmnet_lab', 'bridge kvbr-lab', 'port vm0', 'address 10.0.0.1/24 on kvbr-lab', 'dnsmasq'. */
  what: string
  /** From the loss being noticed to the repair being complete. */
  ms: number
}

export interface RepairFailedEvent {
  what: string[]
  error: unknown
  /** Whether another attempt is scheduled. */
  retrying: boolean
}

export interface RepairOutcome {
  steps: readonly StepTiming[]
  dnsmasqRunning: boolean
}

export interface WatcherHooks {
  ns: NetnsRef
  /** What to look after, asked on every notification (the plan may change). */
  targets(): WatchTargets
  /** Links that exist now (their indexes name them in address notifications). */
  seed(): Promise<{ index: number; name: string }[]>
  /** Re-converge the network; undefined when it is gone (taken down elsewhere): watching ends. */
  repair(): Promise<RepairOutcome | undefined>
  repaired(e: RepairedEvent): void
  failed(e: RepairFailedEvent): void
  /** For names in repairs after lost notifications. */
  names(): { table?: string | undefined; bridge?: string | undefined }
}

/** Quiet time after the last loss before repairing: `nft flush ruleset` or a bridge delete is a burst. */
export const DEBOUNCE_MS = 20
/**
 * An nftables loss is known whole only at the end of its transaction (the NEWGEN message): nothing more of
 * that change is coming, so its repair waits just long enough to take in a transaction right behind it
 * (a script's next `nft` command), not the quiet time of a burst of link messages.
 */
export const NFT_QUIET_MS = 2
/** A steady stream of changes still gets a repair this long after the first loss. */
export const MAX_DELAY_MS = 100
/** Delays of the next attempts after a failed repair; then it waits for the next loss. */
const RETRY_MS = [250, 1000, 4000]

interface Pending extends Loss {
  since: number
}

export class NetworkWatcher {
  private readonly classifier: LossClassifier
  private readonly pending = new Map<string, Pending>()
  private mutes = 0
  private timer: NodeJS.Timeout | undefined
  private firstAt = 0
  private running = false
  private failures = 0
  private stopped = false
  /** Losses seen while muted (see recheckSuspects). */
  private readonly suspects = new Map<string, Loss>()
  /** The repair under way (settled when none): stop() waits for it. */
  private inflight: Promise<void> = Promise.resolve()

  private constructor(
    private readonly hooks: WatcherHooks,
    private readonly route: NetlinkSubscription,
    private readonly nft: NetlinkSubscription | undefined,
  ) {
    this.classifier = new LossClassifier(hooks.targets)
    route.on('message', (m) => {
      const n = decodeRtnlNotification(m.header.type, m.payload, m.header.pid)
      if (n) this.take(this.classifier.onRtnl(n), this.mutes > 0 ? this.classifier.restoredBy(n) : [])
    })
    nft?.on('message', (m) => {
      const n = decodeNftNotification(m.header.type, m.payload)
      if (n) this.take(this.classifier.onNft(n), n.kind === 'gen' ? this.classifier.nftRestored : [])
    })
    const overrun = () => this.take([{ kind: 'unknown', what: 'notifications lost' }])
    route.on('overrun', overrun)
    nft?.on('overrun', overrun)
  }

  /** Subscribes first, then learns the links that exist: nothing that happens in between is missed. */
  static async start(hooks: WatcherHooks): Promise<NetworkWatcher> {
    const route = NetlinkSubscription.open(hooks.ns, [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_TC])
    let nft: NetlinkSubscription | undefined
    try {
      nft = NetlinkSubscription.open(hooks.ns, [NFNLGRP_NFTABLES], NETLINK_NETFILTER)
    } catch (err) {
      // A kind without a table on a host that never loaded nf_tables has no nfnetlink to listen to, and
      // nothing there to lose either.
      if (hooks.targets().tables.length > 0) {
        route.close()
        throw err
      }
    }
    const w = new NetworkWatcher(hooks, route, nft)
    try {
      for (const l of await hooks.seed()) w.classifier.learnLink(l.index, l.name)
    } catch (err) {
      w.stop()
      throw err
    }
    return w
  }

  /** A loss seen elsewhere (dnsmasq exited on its own): repaired like the others. */
  note(loss: Loss): void {
    this.add(loss)
  }

  /** kvmnet itself is about to change the network: its notifications are not losses. */
  mute(): void {
    this.mutes++
  }

  /** Listening resumes once every notification of the changes made while muted has been read. */
  async unmute(): Promise<void> {
    try {
      // ifindex 1 is lo in every namespace.
      if (!this.stopped) await Promise.all([this.route.barrier(encodeGetLink({ index: 1 })), this.nft?.barrier(encodeGetGen())])
    } catch {
      // A closed socket: nothing more will arrive anyway.
    } finally {
      this.mutes = Math.max(0, this.mutes - 1)
      if (this.mutes === 0) this.recheckSuspects()
    }
  }

  /**
   * Losses seen while kvmnet itself changed the network are not dropped: a change by someone else may
   * have landed in the middle (the ruleset flushed after the repair's nft step). They get one more
   * converge, which puts back what is really missing and, when they were all kvmnet's own, finds nothing
   * to do, changes nothing and so cannot feed a loop.
   */
  private recheckSuspects(): void {
    const suspects = [...this.suspects.values()]
    this.suspects.clear()
    for (const l of suspects) this.add(l)
  }

  get watching(): boolean {
    return !this.stopped
  }

  /** Stops listening; resolves once a repair under way has ended (never rejects). */
  stop(): Promise<void> {
    if (this.stopped) return this.inflight
    this.stopped = true
    clearTimeout(this.timer)
    this.pending.clear()
    this.suspects.clear()
    this.route.close()
    this.nft?.close()
    return this.inflight
  }

  private take(losses: Loss[], restored: readonly string[] = []): void {
    if (this.mutes > 0) {
      // kvmnet's own change, or someone else's that landed meanwhile: which, is known only afterwards —
      // unless a later message of the change shows the thing whole again.
      for (const l of losses) if (!this.suspects.has(l.what)) this.suspects.set(l.what, l)
      for (const what of restored) this.suspects.delete(what)
      return
    }
    for (const l of losses) this.add(l)
  }

  private add(loss: Loss): void {
    if (this.stopped) return
    if (!this.pending.has(loss.what)) this.pending.set(loss.what, { ...loss, since: monotonicMs() })
    if (this.running) return
    this.schedule(loss.kind === 'nft' ? NFT_QUIET_MS : DEBOUNCE_MS)
  }

  /** Debounced: a burst of losses is one repair, but never later than MAX_DELAY_MS after the first. */
  private schedule(quietMs: number): void {
    const now = monotonicMs()
    if (this.timer === undefined) this.firstAt = now
    clearTimeout(this.timer)
    const wait = Math.max(0, Math.min(quietMs, this.firstAt + Math.max(quietMs, MAX_DELAY_MS) - now))
    this.timer = setTimeout(() => {
      this.timer = undefined
      // run() reports its failures through hooks.failed and never rejects.
      if (!this.running) this.inflight = this.run()
    }, wait)
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running || this.pending.size === 0) return
    this.running = true
    const batch = [...this.pending.values()]
    this.pending.clear()
    try {
      const outcome = await this.hooks.repair()
      if (!outcome) {
        // Gone, or watching stopped while it waited: not awaited (stop() would wait for this very run).
        void this.stop()
        return
      }
      this.failures = 0
      const done = monotonicMs()
      const known = batch.filter((l) => l.kind !== 'unknown')
      const confirmed: { kind: LossKind; what: string; since: number }[] = confirmedRepairs(known, outcome.steps, outcome.dnsmasqRunning)
      const unknown = batch.find((l) => l.kind === 'unknown')
      if (unknown) {
        // Lost notifications: report whatever the converge found missing.
        for (const l of lossesFromSteps(outcome.steps, this.hooks.names())) if (!confirmed.some((c) => c.kind === l.kind)) confirmed.push({ ...l, since: unknown.since })
      }
      // Losses noticed while it ran (kept for one more converge, see recheckSuspects) that it may already
      // have put back: said now, as the converge's steps tell; the next converge says it again only if it
      // has to repair them once more.
      const during = [...this.pending.values()].filter((l) => l.kind !== 'dnsmasq' && l.kind !== 'unknown' && !confirmed.some((c) => c.what === l.what))
      confirmed.push(...confirmedRepairs(during, outcome.steps, outcome.dnsmasqRunning))
      for (const c of confirmed) if (!this.stopped) this.hooks.repaired({ kind: c.kind, what: c.what, ms: done - c.since })
    } catch (error) {
      if (this.stopped) return
      const retrying = this.failures < RETRY_MS.length
      this.hooks.failed({ what: batch.map((l) => l.what), error, retrying })
      if (retrying) {
        for (const l of batch) if (!this.pending.has(l.what)) this.pending.set(l.what, l)
        const delay = RETRY_MS[this.failures++] ?? 0
        this.running = false
        this.schedule(delay)
        return
      }
      this.failures = 0
    } finally {
      this.running = false
    }
    // Losses noticed while the repair ran (outside its own changes) get a repair of their own.
    if (this.pending.size > 0 && !this.stopped) this.schedule(DEBOUNCE_MS)
  }
}
