/**
 * The Network handle: what an orchestrator holds. `up()` makes the kernel match the spec (creating,
 * or converging an existing network: same spec twice changes nothing), `down()` removes everything the
 * network owns and puts back what it borrowed (a NIC's addresses and routes, sysctls), and the port,
 * forward, reservation and peer methods change one part without touching the rest. What is specific to
 * a kind is its driver's (kinds/); the handle runs the driver inside a transaction.
 */
import { EventEmitter } from 'node:events'
import ipaddr from '../util/ipaddr.js'
import { closeSync } from 'node:fs'
import { join } from 'node:path'
import { InUseError, WouldRemoveError, KvmnetError, NotFoundError, SpecError, SystemError, TimeoutError, isNotFound } from '../errors.js'
import { Netns } from '../netns/index.js'
import { nsLabel } from '../netns/exec.js'
import { Rtnl } from '../rtnl/index.js'
import { Nft } from '../nft/index.js'
import { tableName } from '../nft/names.js'
import { Dnsmasq, LeaseWatcher, readLeaseFile, type Lease, type RestartInfo } from '../dnsmasq/index.js'
import { isExpired } from '../dnsmasq/leases.js'
import type { ApplyContext, DnsmasqSlot, NetworkDriver, TeardownContext } from './driver.js'
import { driverFor, planFor, sysctlsOfSpec } from './kinds/index.js'
import { bridgeOf, firewallOf, linkNamesOf, ownAliases, type NetworkPlan, type PlannedPort } from './plan.js'
import { ensureFirewall } from './steps/firewall.js'
import { validateSpec } from './validate.js'
import type { DhcpHostSpec, ForwardSpec, NetworkMode, NetworkSpec, NetworkSpecInput, NetworkVxlanSpec, PortSpec } from './spec.js'
import { canonicalIp } from './vxlan.js'
import { withResolvedMtu } from './steps/vxlan.js'
import { DEFAULT_STATE_ROOT, listStates, netnsIdentity, readState, removeEmptyParents, removeState, stateDirFor, stateLabel, writeState, type NetworkState, type RuntimeAdditions } from './state.js'
import { acquireLock } from '../lock/file-lock.js'
import { droppedRuntime, emptyRuntime, forwardKey, keepRuntime, unique } from './runtime.js'
import { forwardsOverlap } from './kinds/checks.js'
import { processStartTime } from '../util/process-start-time.js'
import { Transaction, type StepCategory, type StepEvent, type StepTiming } from './transaction.js'
import { assertGroupOurs, ensurePorts, portInfo, type PortInfo } from './steps/ports.js'
import { networkStatus, type NetworkStatus } from './status.js'
import { tapHolders } from './steps/tap-holders.js'
import { tightenDnsmasqFiles } from './steps/dnsmasq-files.js'
import { NetworkWatcher, watchTargets, type RepairedEvent, type RepairFailedEvent, type RepairOutcome } from '../watch/index.js'
import type { CoexistWarning } from '../coexist/model.js'

export interface NetworkOptions {
  /** Namespace to build in; overrides spec.netns. A Netns handle, a name under /run/netns, or a path. */
  netns?: Netns | string
  /** Root of kvmnet's state directories (default /run/kvmnet). */
  stateRoot?: string
  /**
   * 'supervised' (default): dnsmasq is a child of this process, restarted if it dies, and dies with it.
   * 'detached': dnsmasq outlives this process (the CLI's `up`); a later `down` adopts and stops it.
   */
  dnsmasq?: 'supervised' | 'detached'
  /** Called for every step of every apply, teardown and rollback (also emitted as 'step'). */
  onStep?: (e: StepEvent) => void
  /** How long up/down/changes wait for another writer of the same network (default 10 s; 0: fail at once with BusyError). */
  lockTimeoutMs?: number
  /**
   * Self-healing: once `up()` has succeeded, watch the namespace's link, address and nftables change
   * notifications (and dnsmasq's exits), and re-converge the network when something of it is lost — its
   * table flushed or deleted, its bridge or a port deleted, a host address removed, dnsmasq dead —
   * emitting `repaired` for each thing put back. Ends on `down()` or `close()`. Default false.
   */
  watch?: boolean
  /**
   * Test hook: called before each step; throwing from it simulates a failure part-way through an apply.
   * Not for production use.
   */
  faultInjector?: (step: string) => void
}

export interface UpOptions {
  /** Remove what was added at runtime (addPort, addForward, addReservation) and the spec lacks; else WouldRemoveError. */
  prune?: boolean
}

const DEFAULT_LOCK_TIMEOUT_MS = 10_000

export interface ApplyReport {
  network: string
  /** Wall time of the whole apply or teardown, ms. */
  totalMs: number
  steps: StepTiming[]
  /** Durations summed per category (links, addresses, routes, sysctls, nft, dnsmasq, state). */
  byCategory: Partial<Record<StepCategory, number>>
}

/** A lease, with the name of the port whose guest MAC it is (when it is one of the network's ports). */
export type PortLease = Lease & { port?: string }

export interface NetworkEvents {
  step: [StepEvent]
  /** A lease granted or renewed (supervised or adopted dnsmasq). */
  lease: [PortLease]
  /** A lease that ran out, or was released or dropped. */
  'lease-expired': [PortLease, 'time' | 'removed']
  'dnsmasq-restart': [RestartInfo]
  /** `watch: true`: something of the network was lost and has been put back. */
  repaired: [RepairedEvent]
  /** `watch: true`: a repair failed (retried a few times, then again at the next loss). */
  'repair-failed': [RepairFailedEvent]
  /**
   * Something in the namespace will still block the network after `up` (a foreign table's drop policy
   * kvmnet does not modify; Docker, ufw or firewalld with firewall.coexist off): said, never fixed behind
   * the administrator's back. `kvmnet doctor` names the same.
   */
  warning: [NetworkWarning]
}

/** A 'warning' event: the network, the object responsible, what it does and the fix. */
export type NetworkWarning = CoexistWarning & { network: string }

function report(network: string, start: number, steps: StepTiming[]): ApplyReport {
  const byCategory: Partial<Record<StepCategory, number>> = {}
  for (const s of steps) byCategory[s.category] = (byCategory[s.category] ?? 0) + s.ms
  return { network, totalMs: performance.now() - start, steps: [...steps], byCategory }
}

function resolveNetns(spec: NetworkSpec, opt: Netns | string | undefined): Netns {
  const ns = opt ?? spec.netns
  if (ns === undefined) return Netns.current()
  if (ns instanceof Netns) return ns
  return Netns.open(ns)
}

/** Validate a spec and return a handle; nothing is touched until `up()`. */
export function createNetwork(spec: NetworkSpecInput, options: NetworkOptions = {}): Network {
  return new Network(validateSpec(spec), options)
}

/** A handle on an existing network, from its state (another process built it). */
export async function openNetwork(name: string, options: NetworkOptions = {}): Promise<Network> {
  const ns = options.netns instanceof Netns ? options.netns : options.netns ? Netns.open(options.netns) : Netns.current()
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(name)) throw new SpecError('NAME', `'${name}' is not a network name (1-32 letters, digits, _ or -)`)
  const dir = stateDirFor(options.stateRoot ?? DEFAULT_STATE_ROOT, stateLabel(ns), name)
  const state = await readState(dir)
  if (!state) throw new NotFoundError(`network ${name}`, `no network named ${name} in namespace ${nsLabel(ns)}`)
  return new Network(validateSpec(state.spec), { ...options, netns: ns }, state)
}

/** Kinds whose L2 is built differently: converging between them would leave the old one half in place. */
function l2Family(mode: NetworkMode): 'own-bridge' | 'nic-bridge' | 'macvtap' {
  return mode === 'bridge' ? 'nic-bridge' : mode === 'macvtap' ? 'macvtap' : 'own-bridge'
}

export class Network extends EventEmitter<NetworkEvents> implements AsyncDisposable {
  readonly ns: Netns
  readonly stateDir: string
  private readonly stateRoot: string
  private specValue: NetworkSpec
  private planValue: NetworkPlan
  private state: NetworkState | undefined
  private rtnlValue: Rtnl | undefined
  private nftValue: Nft | undefined
  private dnsmasqValue: Dnsmasq | undefined
  private portFds = new Map<string, number[]>()
  private readonly opts: NetworkOptions
  private watcher: NetworkWatcher | undefined
  private watchStarting: Promise<void> | undefined
  /** Bumped by every stop: a watcher whose start was under way when the handle stopped is dropped. */
  private watchEpoch = 0

  constructor(spec: NetworkSpec, options: NetworkOptions = {}, state?: NetworkState) {
    super()
    this.opts = options
    this.specValue = spec
    this.stateRoot = options.stateRoot ?? DEFAULT_STATE_ROOT
    this.planValue = planFor(spec, this.stateRoot)
    this.state = state
    this.ns = resolveNetns(spec, options.netns)
    this.stateDir = stateDirFor(this.stateRoot, stateLabel(this.ns), spec.name)
    if (options.onStep) this.on('step', options.onStep)
  }

  get name(): string {
    return this.specValue.name
  }
  get mode(): NetworkMode {
    return this.specValue.mode
  }
  get spec(): NetworkSpec {
    return this.specValue
  }
  get plan(): NetworkPlan {
    return this.planValue
  }
  /** The network's bridge (undefined for macvtap networks). */
  get bridge(): string | undefined {
    return bridgeOf(this.planValue)
  }

  private get rtnl(): Rtnl {
    this.rtnlValue ??= Rtnl.open(this.ns)
    return this.rtnlValue
  }
  private get nft(): Nft {
    this.nftValue ??= new Nft(this.ns)
    return this.nftValue
  }

  private tx(phase: 'apply' | 'teardown'): Transaction {
    const inject = this.opts.faultInjector
    const tx = new Transaction(this.name, phase, (e) => this.emit('step', e))
    if (inject) {
      const step = tx.step.bind(tx)
      tx.step = ((name, cat, fn) => step(name, cat, (ctx) => (inject(name), fn(ctx)))) as typeof tx.step
    }
    return tx
  }

  private driver(plan: NetworkPlan): { apply(ctx: ApplyContext): Promise<void>; teardown(ctx: TeardownContext): Promise<void> } {
    // The plan and its driver are of the same kind; TypeScript cannot correlate the two unions.
    const d = driverFor(plan.mode) as unknown as NetworkDriver<NetworkPlan['mode']>
    const p = plan as never
    return { apply: (ctx) => d.apply(ctx, p), teardown: (ctx) => d.teardown(ctx, p) }
  }

  private dnsmasqSlot(): DnsmasqSlot {
    return {
      mode: this.opts.dnsmasq ?? 'supervised',
      current: (state) => this.dnsmasqHandle(state),
      set: (d) => {
        if (d && d !== this.dnsmasqValue) this.wireDnsmasq(d)
        this.dnsmasqValue = d
      },
    }
  }

  private applyContext(tx: Transaction, state: NetworkState, prev: NetworkState | undefined, newFds: Map<string, number[]>, prunePorts: boolean): ApplyContext {
    return {
      ns: this.ns,
      rtnl: this.rtnl,
      nft: this.nft,
      tx,
      state,
      prev,
      stateDir: this.stateDir,
      dnsmasq: this.dnsmasqSlot(),
      newFds,
      prunePorts,
      sysctlsOf: sysctlsOfSpec,
      journal: serialized(() => writeState(this.stateDir, state)),
      warn: (w) => this.emit('warning', { ...w, network: this.name }),
    }
  }

  /**
   * Create the network, or converge an existing one to the spec (ports, forwards, reservations added and
   * removed; a kind changed to another kind with its own bridge). A failure undoes what this call created,
   * newest first, and rethrows.
   */
  async up(newSpec?: NetworkSpecInput, opts: UpOptions = {}): Promise<ApplyReport> {
    const spec = newSpec !== undefined ? validateSpec(newSpec) : this.specValue
    if (spec.name !== this.name) throw new SpecError('name', `cannot rename network ${this.name} to ${spec.name}`)
    const r = await this.locked(async () => {
      // What is recorded now (another process may have changed it since this handle last looked).
      const prev = await readState(this.stateDir)
      const runtime = prev?.runtime ?? emptyRuntime()
      const dropped = droppedRuntime(runtime, spec)
      if (dropped.length > 0 && !opts.prune) throw new WouldRemoveError(this.name, dropped)
      return this.apply(spec, prev, keepRuntime(runtime, spec))
    })
    if (this.opts.watch) await this.startWatching()
    return r
  }

  /** Whether this handle is watching its network (`watch: true`, after `up()`, until `down()`/`close()`). */
  get watching(): boolean {
    return this.watcher?.watching ?? false
  }

  private async startWatching(): Promise<void> {
    if (this.watcher?.watching) return
    const epoch = this.watchEpoch
    this.watchStarting ??= NetworkWatcher.start({
      ns: this.ns,
      targets: () => watchTargets(this.planValue),
      seed: async () => {
        const plan = this.planValue
        const names = [...linkNamesOf(plan)]
        const found = await Promise.all(names.map((n) => this.rtnl.findLink(n)))
        return found.filter((l): l is NonNullable<typeof l> => l !== undefined).map((l) => ({ index: l.index, name: l.name }))
      },
      repair: () => this.repair(epoch),
      repaired: (e) => this.emit('repaired', e),
      failed: (e) => this.emit('repair-failed', e),
      names: () => {
        const tag = firewallOf(this.planValue)?.tag
        return { table: tag === undefined ? undefined : tableName(tag), bridge: this.bridge }
      },
    })
      .then((w) => {
        if (epoch === this.watchEpoch) this.watcher = w
        else void w.stop()
      })
      .finally(() => {
        this.watchStarting = undefined
      })
    await this.watchStarting
  }

  /** Resolves once a repair under way has ended (a repair that has not started changing things is cancelled). */
  private stopWatching(): Promise<void> {
    this.watchEpoch++
    const stopped = this.watcher?.stop()
    this.watcher = undefined
    return stopped ?? Promise.resolve()
  }

  /**
   * The watcher's repair: the recorded spec and runtime additions applied again under the lock (what
   * another process added stays). Undefined when the network is no longer there to repair.
   */
  private async repair(epoch: number): Promise<RepairOutcome | undefined> {
    // A repair waits for another writer rather than failing at once (the CLI's default wait is 0).
    const timeoutMs = Math.max(this.opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_LOCK_TIMEOUT_MS)
    try {
      const r = await this.locked(async () => {
        // Watching stopped (down or close) while this repair waited for the lock: cancelled.
        if (epoch !== this.watchEpoch) return undefined
        // A detached dnsmasq that died is not restarted by anyone: drop its handle, so the converge
        // starts a new one (a supervised one is restarted through its handle).
        const d = this.dnsmasqValue
        if (d?.detached && !d.running) {
          d.close()
          this.dnsmasqValue = undefined
        }
        const state = await this.recordedState()
        return this.apply(validateSpec(state.spec), state, state.runtime ?? emptyRuntime())
      }, { timeoutMs })
      return r && { steps: r.steps, dnsmasqRunning: this.dnsmasqValue?.running ?? false }
    } catch (err) {
      // Taken down by another process, or its namespace deleted: nothing left to look after. Anything
      // else not found (a link or table removed again while the repair ran) is a failed repair, retried.
      if (err instanceof NotFoundError && !(netnsIdentity(this.ns) !== undefined && (await readState(this.stateDir)) !== undefined)) return undefined
      throw err
    }
  }

  /** Runs `fn` holding the network's lock (across processes and handles); `remove` the lock file after. */
  private async locked<T>(fn: () => Promise<T>, opts: { removeAfter?: boolean; timeoutMs?: number } = {}): Promise<T> {
    const lock = await acquireLock(`${this.stateDir}.lock`, { timeoutMs: opts.timeoutMs ?? this.opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, what: `network ${this.name}` })
    let ok = false
    // This handle's own changes are not losses for its watcher.
    const watcher = this.watcher
    watcher?.mute()
    try {
      const r = await fn()
      ok = true
      return r
    } finally {
      await watcher?.unmute()
      lock.release({ remove: ok && opts.removeAfter === true })
      // The namespace's directory and the root go with the last network (rmdir only removes empty ones).
      if (ok && opts.removeAfter) await removeEmptyParents(this.stateDir)
    }
  }

  /** The apply itself, under the lock, from the state as recorded (`prev`). */
  private async apply(spec: NetworkSpec, prev: NetworkState | undefined, runtime: RuntimeAdditions, prunePorts = true): Promise<ApplyReport> {
    const start = performance.now()
    const [oldSpec, oldPlan] = [this.specValue, this.planValue]
    this.specValue = spec
    this.planValue = planFor(spec, this.stateRoot)
    const plan = this.planValue
    const tx = this.tx('apply')
    const newFds = new Map<string, number[]>()
    try {
      const netnsId = netnsIdentity(this.ns)
      if (!netnsId) throw new NotFoundError(`network namespace ${nsLabel(this.ns)}`)
      if (prev && prev.netnsId !== netnsId) throw new KvmnetError(`state of ${this.name} belongs to another namespace`)
      if (prev && l2Family(prev.spec.mode) !== l2Family(plan.mode))
        throw new SpecError('mode', `cannot converge a ${prev.spec.mode} network to ${plan.mode}: take it down first`)
      const state: NetworkState = prev
        ? { ...prev, sysctls: [...prev.sysctls], spec: this.specValue, bridge: bridgeOf(plan), group: plan.group, runtime }
        : {
            runtime,
            version: 1,
            name: this.name,
            netnsPath: this.ns.path,
            netnsName: this.ns.name,
            netnsId,
            spec: this.specValue,
            bridge: bridgeOf(plan),
            group: plan.group,
            sysctls: [],
            createdAt: new Date().toISOString(),
          }
      await this.assertForwardsFree(spec, netnsId)
      const startTime = await processStartTime(process.pid)
      const ctx = this.applyContext(tx, state, prev, newFds, prunePorts)
      // The journal first: from here on, a process killed at any moment leaves a state from which `down`
      // and `gc` can finish (every object is tagged, every borrowed value recorded before it is changed).
      await tx.step('journal', 'state', async (s) => {
        if (startTime) state.applying = { pid: process.pid, startTime, since: new Date().toISOString() }
        // A first apply owns the state directory (dnsmasq's files live in it too): a rollback removes it.
        if (!prev) s.onUndo(() => removeState(this.stateDir))
        else s.onUndo(() => writeState(this.stateDir, prev))
        await ctx.journal()
      })
      // A group is this network's alone: down deletes it with one request.
      if (!prev) await assertGroupOurs(this.rtnl, plan.group, ownAliases(plan), linkNamesOf(plan), 'group')
      await this.driver(plan).apply(ctx)
      await tx.step('state', 'state', async () => {
        state.owner = startTime && (this.opts.dnsmasq ?? 'supervised') === 'supervised' ? { pid: process.pid, startTime } : state.owner
        state.applying = undefined
        state.lastApply = { at: new Date().toISOString(), totalMs: performance.now() - start, steps: [...tx.timings] }
        await ctx.journal()
      })
      tx.commit()
      this.state = state
    } catch (err) {
      // Only this apply's fds: ports from earlier applies stay with whoever holds them.
      for (const f of newFds.values()) for (const fd of f) closeQuietly(fd)
      // The network is back where it was, and so is the handle's idea of it.
      this.specValue = oldSpec
      this.planValue = oldPlan
      await tx.rollback(err)
    }
    for (const [name, f] of newFds) {
      // A port made again (deleted behind kvmnet's back): the old fds belong to a device that is gone.
      for (const fd of this.portFds.get(name) ?? []) if (!f.includes(fd)) closeQuietly(fd)
      this.portFds.set(name, f)
    }
    // Ports the new spec dropped were deleted: their fds (non-persistent taps) go with them.
    const planned = new Set(plan.ports.map((p) => p.name))
    for (const [name, f] of this.portFds) {
      if (planned.has(name)) continue
      for (const fd of f) closeQuietly(fd)
      this.portFds.delete(name)
    }
    return report(this.name, start, tx.timings)
  }

  private async dnsmasqHandle(state: NetworkState | undefined): Promise<Dnsmasq | undefined> {
    if (this.dnsmasqValue) return this.dnsmasqValue
    if (!state?.dnsmasq) return undefined
    const adopted = await Dnsmasq.adopt(this.ns, state.dnsmasq.stateDir).catch(() => undefined)
    if (adopted) this.wireDnsmasq(adopted)
    this.dnsmasqValue = adopted
    return adopted
  }

  private wireDnsmasq(d: Dnsmasq): void {
    d.on('lease-added', (l: Lease) => this.emit('lease', this.withPort(l)))
    d.on('lease-changed', (l: Lease) => this.emit('lease', this.withPort(l)))
    d.on('lease-expired', (l: Lease, why: 'time' | 'removed') => this.emit('lease-expired', this.withPort(l), why))
    // A death the supervisor sees is a loss like any other: the watcher repairs it (and says so).
    d.on('exit', (e) => {
      if (!e.expected) this.watcher?.note({ kind: 'dnsmasq', what: 'dnsmasq' })
    })
    d.on('restart', (info: RestartInfo) => {
      // A restarted dnsmasq wrote a new pid file for its unprivileged user: take it back.
      const dir = this.state?.dnsmasq?.stateDir
      if (dir) void tightenDnsmasqFiles(dir).catch(() => undefined)
      this.emit('dnsmasq-restart', info)
    })
  }

  /**
   * Remove everything the network owns (links in its group, its nft table, dnsmasq, state) and put back
   * what it borrowed (a NIC's addresses and routes, sysctls). Safe to call when parts are already gone.
   * `lockTimeoutMs`: how long to wait for another writer this time (default: the handle's).
   */
  async down(opts: { lockTimeoutMs?: number } = {}): Promise<ApplyReport> {
    // First, or the teardown itself would be repaired; a repair under way ends first (it holds the lock).
    await this.stopWatching()
    return this.locked(() => this.teardown(), { removeAfter: true, timeoutMs: opts.lockTimeoutMs })
  }

  private async teardown(): Promise<ApplyReport> {
    const start = performance.now()
    const tx = this.tx('teardown')
    const state = await readState(this.stateDir)
    // The recorded kind is what was built; the handle's spec may be a newer one never applied.
    const plan = state ? planFor(state.spec, this.stateRoot) : this.planValue
    const errors: unknown[] = []
    const ctx: TeardownContext = {
      ns: this.ns,
      rtnl: this.rtnl,
      nft: this.nft,
      state,
      stateDir: this.stateDir,
      dnsmasq: this.dnsmasqSlot(),
      sysctlsOf: sysctlsOfSpec,
      attempt: async (step, cat, fn) => {
        try {
          await tx.step(step, cat, fn)
        } catch (err) {
          if (!isNotFound(err)) errors.push(err)
        }
      },
    }
    await this.driver(plan).teardown(ctx)
    for (const f of this.portFds.values()) for (const fd of f) closeQuietly(fd)
    this.portFds.clear()
    this.state = undefined
    this.close()
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) throw new AggregateError(errors, `teardown of ${this.name}: ${errors.length} steps failed`)
    return report(this.name, start, tx.timings)
  }

  /** What is there now, read from the kernel (filtered requests, no full dumps), nft and dnsmasq. */
  async status(): Promise<NetworkStatus> {
    const state = this.state ?? (await readState(this.stateDir))
    const d = await this.dnsmasqHandle(state)
    const plan = this.planValue
    const ctx = { ns: this.ns, rtnl: this.rtnl, state, dnsmasq: d }
    const driver = driverFor(plan.mode) as unknown as NetworkDriver<NetworkPlan['mode']>
    return networkStatus(ctx, plan, (c) => driver.problems(c, plan as never))
  }

  /**
   * Add a VM port (tap or macvtap) to a running network, recorded as a runtime addition (a later `up` of a
   * spec without it refuses to remove it unless told to prune). Returns its name, guest MAC, ifindex, and
   * fds or /dev/tapN.
   */
  async addPort(port: PortSpec): Promise<PortInfo> {
    return this.locked(async () => {
      const state = await this.recordedState()
      const base = state.spec
      const ports = [...(base.ports ?? []).filter((p) => p.name !== port.name), port]
      const spec = validateSpec({ ...base, ports })
      // A vxlan's underlay decides the MTU: the new tap gets the one its bridge has.
      const plan = await withResolvedMtu(this.rtnl, planFor(spec, this.stateRoot))
      const planned = plan.ports.find((p) => p.name === port.name)
      if (!planned) throw new KvmnetError(`port ${port.name} missing from its own plan`)
      const tx = this.tx('apply')
      const newFds = new Map<string, number[]>()
      const runtime = state.runtime ?? emptyRuntime()
      const next: NetworkState = { ...state, spec, runtime: { ...runtime, ports: unique([...runtime.ports, port.name]) } }
      try {
        const anchor = 'bridge' in plan ? { bridge: plan.bridge } : { parent: plan.parent, mode: plan.macvtapMode }
        const ctx = this.applyContext(tx, next, state, newFds, false)
        await ensurePorts(ctx, plan, anchor, [planned])
        // A filtered port needs its rules (and every other filter learns its reservation).
        const rules = firewallOf(plan)
        if (rules?.portFilters?.length) await ensureFirewall(ctx, rules)
        await writeState(this.stateDir, next)
        tx.commit()
      } catch (err) {
        for (const f of newFds.values()) for (const fd of f) closeQuietly(fd)
        await tx.rollback(err)
      }
      for (const [name, f] of newFds) this.portFds.set(name, f)
      this.specValue = spec
      this.planValue = plan
      this.state = next
      return this.portInfo(planned)
    })
  }

  /**
   * Remove a VM port; its fds (if this handle holds them) are closed. A tap that another process still
   * holds open (QEMU, or fds taken with takePortFds) is refused with an InUseError unless `force`.
   */
  async removePort(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.locked(async () => {
      const state = await this.recordedState()
      const have = state.spec.ports ?? []
      const ports = have.filter((p) => p.name !== name)
      if (ports.length === have.length) throw new NotFoundError(`port ${name}`)
      const plan = planFor(state.spec, this.stateRoot)
      if (!opts.force && plan.ports.find((p) => p.name === name)?.kind === 'tap') {
        const ours = new Set((this.portFds.get(name) ?? []).map((fd) => `${process.pid}/${fd}`))
        const holders = await tapHolders(name, ours)
        if (holders.length > 0) throw new InUseError(`port ${name}`, holders, 'stop the guest first, or pass { force: true }')
      }
      await this.rtnl.deleteLink(name).catch((err) => {
        if (!isNotFound(err)) throw err
      })
      for (const fd of this.portFds.get(name) ?? []) closeQuietly(fd)
      this.portFds.delete(name)
      const runtime = state.runtime ?? emptyRuntime()
      await this.record({ ...state, spec: validateSpec({ ...state.spec, ports }), runtime: { ...runtime, ports: runtime.ports.filter((p) => p !== name) } })
    })
  }

  /** The fds of a non-persistent tap port, to hand to the hypervisor. The handle keeps ownership. */
  portFdsOf(name: string): readonly number[] {
    return this.portFds.get(name) ?? []
  }

  /**
   * Take over a non-persistent tap's fds: the handle forgets them (never closes them), so a VM manager
   * passes them to QEMU and the tap lives exactly as long as someone holds one.
   */
  takePortFds(name: string): number[] {
    const fds = this.portFds.get(name)
    if (!fds) throw new NotFoundError(`fds of port ${name}`, `this handle holds no fds for ${name} (persistent, or already taken)`)
    this.portFds.delete(name)
    return fds
  }

  async ports(): Promise<PortInfo[]> {
    return Promise.all(this.planValue.ports.map((p) => this.portInfo(p)))
  }

  private async portInfo(p: PlannedPort): Promise<PortInfo> {
    return portInfo(p, await this.rtnl.getLink(p.name), this.portFds.get(p.name))
  }

  /** Add a port forward (nat networks), recorded as a runtime addition. */
  async addForward(f: ForwardSpec): Promise<ApplyReport> {
    return this.change((spec, runtime) => {
      if (spec.mode !== 'nat') throw new SpecError('forwards', `port forwards need a nat network (${this.name} is ${spec.mode})`)
      return [{ ...spec, forwards: [...(spec.forwards ?? []), f] }, { ...runtime, forwards: unique([...runtime.forwards, forwardKey(f)]) }]
    })
  }

  async removeForward(f: Pick<ForwardSpec, 'proto' | 'hostPort'> & { hostAddress?: string }): Promise<ApplyReport> {
    return this.change((spec, runtime) => {
      const key = forwardKey(f)
      const have = spec.mode === 'nat' ? (spec.forwards ?? []) : []
      const forwards = have.filter((g) => forwardKey(g) !== key)
      if (spec.mode !== 'nat' || forwards.length === have.length) throw new NotFoundError(`forward ${f.proto}/${JSON.stringify(f.hostPort)}`)
      return [{ ...spec, forwards }, { ...runtime, forwards: runtime.forwards.filter((k) => k !== key) }]
    })
  }

  /** Add a DHCP reservation, recorded as a runtime addition. */
  async addReservation(h: DhcpHostSpec): Promise<ApplyReport> {
    return this.change((spec, runtime) => {
      const ipv4 = 'ipv4' in spec ? spec.ipv4 : undefined
      const dhcp = ipv4 && 'dhcp' in ipv4 ? ipv4.dhcp : undefined
      if (!ipv4 || !dhcp) throw new SpecError('ipv4.dhcp', 'this network has no DHCP')
      const next = { ...spec, ipv4: { ...ipv4, dhcp: { ...dhcp, hosts: [...(dhcp.hosts ?? []), h] } } } as NetworkSpec
      return [next, { ...runtime, reservations: unique([...runtime.reservations, h.mac.toLowerCase()]) }]
    })
  }

  /** Remove the reservation for a MAC (or IP). */
  async removeReservation(macOrIp: string): Promise<ApplyReport> {
    return this.change((spec, runtime) => {
      const ipv4 = 'ipv4' in spec ? spec.ipv4 : undefined
      const dhcp = ipv4 && 'dhcp' in ipv4 ? ipv4.dhcp : undefined
      const key = macOrIp.toLowerCase()
      const gone = (dhcp?.hosts ?? []).filter((h) => h.mac.toLowerCase() === key || h.ip === key)
      if (!ipv4 || !dhcp || gone.length === 0) throw new NotFoundError(`reservation ${macOrIp}`)
      const hosts = (dhcp.hosts ?? []).filter((h) => !gone.includes(h))
      const macs = new Set(gone.map((h) => h.mac.toLowerCase()))
      return [{ ...spec, ipv4: { ...ipv4, dhcp: { ...dhcp, hosts } } } as NetworkSpec, { ...runtime, reservations: runtime.reservations.filter((m) => !macs.has(m)) }]
    })
  }

  /**
   * A change to one part, computed under the lock from the spec as recorded now — not this handle's copy,
   * which another process may have changed since (its forward would otherwise be silently dropped).
   */
  private async change(edit: (spec: NetworkSpec, runtime: RuntimeAdditions) => [NetworkSpec, RuntimeAdditions]): Promise<ApplyReport> {
    return this.locked(async () => {
      const state = await this.recordedState()
      const [spec, runtime] = edit(state.spec, state.runtime ?? emptyRuntime())
      return this.apply(validateSpec(spec), state, runtime)
    })
  }

  /**
   * Add a VXLAN peer (another host's underlay address: floods are sent there too), recorded as a runtime
   * addition so a later `up` of a spec without it is a visible difference. Adding a peer already there
   * changes nothing.
   */
  async addPeer(ip: string): Promise<ApplyReport> {
    return this.change((spec, runtime) => {
      const vxlan = vxlanSection(spec, this.name)
      if (typeof ip !== 'string' || !ipaddr.isValid(ip) || ip.includes('%')) throw new SpecError('vxlan.peers', `'${String(ip)}' is not an IP address`)
      const key = canonicalIp(ip)
      const have = vxlan.peers ?? []
      const peers = have.some((p) => canonicalIp(p) === key) ? have : [...have, ip]
      return [{ ...spec, vxlan: { ...vxlan, peers } } as NetworkSpec, { ...runtime, peers: unique([...(runtime.peers ?? []), key]) }]
    })
  }

  /** Remove a VXLAN peer: its flooding entry goes, so frames flooded on this host no longer reach it. */
  async removePeer(ip: string): Promise<ApplyReport> {
    return this.change((spec, runtime) => {
      const vxlan = vxlanSection(spec, this.name)
      const key = ipaddr.isValid(ip) ? canonicalIp(ip) : ip
      const have = vxlan.peers ?? []
      const peers = have.filter((p) => canonicalIp(p) !== key)
      if (peers.length === have.length) throw new NotFoundError(`peer ${ip}`, `${ip} is not a vxlan peer of ${this.name}`)
      return [{ ...spec, vxlan: { ...vxlan, peers } } as NetworkSpec, { ...runtime, peers: (runtime.peers ?? []).filter((p) => p !== key) }]
    })
  }

  /**
   * Several changes at once (reservations, forwards), decided under the network's lock from the spec and
   * runtime additions as recorded now and applied in one go: an orchestrator picking a free address for a
   * new guest cannot race another one picking the same (kvmnet-cni's ADD). `edit` returns the new spec
   * and runtime additions, or undefined for nothing to do (no apply, resolves undefined).
   */
  async update(edit: (spec: NetworkSpec, runtime: RuntimeAdditions) => [NetworkSpec, RuntimeAdditions] | undefined): Promise<ApplyReport | undefined> {
    return this.locked(async () => {
      const state = await this.recordedState()
      const next = edit(state.spec, state.runtime ?? emptyRuntime())
      return next ? this.apply(validateSpec(next[0]), state, next[1]) : undefined
    })
  }

  /**
   * Two networks in one namespace forwarding the same host port would both install DNAT rules for it, and
   * every connection would go to whichever table the kernel consults first: refused before anything.
   */
  private async assertForwardsFree(spec: NetworkSpec, netnsId: string): Promise<void> {
    if (spec.mode !== 'nat' || !spec.forwards?.length) return
    const others = (await listStates(this.stateRoot)).filter((o) => o.state.name !== this.name && o.state.netnsId === netnsId)
    for (const { state } of others) {
      const theirs = state.spec.mode === 'nat' ? (state.spec.forwards ?? []) : []
      spec.forwards.forEach((f, i) => {
        const j = theirs.findIndex((g) => forwardsOverlap(f, g))
        if (j >= 0) throw new SpecError(`forwards[${i}].hostPort`, `overlaps network ${state.name}'s forwards[${j}] in this namespace`)
      })
    }
  }

  /** The state as recorded; NotFoundError when the network is not up. */
  private async recordedState(): Promise<NetworkState> {
    const state = await readState(this.stateDir)
    if (!state) throw new NotFoundError(`network ${this.name}`, `network ${this.name} is not up`)
    return state
  }

  private async record(state: NetworkState): Promise<void> {
    await writeState(this.stateDir, state)
    this.state = state
    this.specValue = state.spec
    this.planValue = planFor(state.spec, this.stateRoot)
  }

  /**
   * The DHCP leases, read from dnsmasq's lease file: also when dnsmasq is not running or not adoptable by
   * this process. A file that cannot be read (permissions) is an error, never an empty list.
   */
  async leases(): Promise<PortLease[]> {
    const file = await this.leaseFile()
    if (!file) return []
    const now = Date.now()
    return (await readLeases(file)).filter((l) => !isExpired(l, now)).map((l) => this.withPort(l))
  }

  /** Resolves with the first live lease of a port (by name) or MAC; TimeoutError after `timeoutMs`. */
  async waitForLease(portOrMac: string, opts: { timeoutMs: number }): Promise<PortLease> {
    const mac = (this.planValue.ports.find((p) => p.name === portOrMac)?.mac ?? portOrMac).toLowerCase()
    const file = await this.leaseFile()
    if (!file) throw new SpecError('ipv4.dhcp', `${this.name} runs no DHCP server`)
    const watcher = new LeaseWatcher(file)
    try {
      return await new Promise<PortLease>((resolve, reject) => {
        const timer = setTimeout(() => reject(new TimeoutError(`lease for ${portOrMac}`, opts.timeoutMs)), opts.timeoutMs)
        const done = (l: Lease) => {
          if (l.mac !== mac || isExpired(l)) return
          clearTimeout(timer)
          resolve(this.withPort(l))
        }
        watcher.on('lease-added', done)
        watcher.on('lease-changed', done)
        watcher.on('error', (err) => {
          clearTimeout(timer)
          reject(err)
        })
        // Watch first, then read: a lease granted in between is seen by one or the other.
        watcher
          .start()
          .then(() => readLeases(file))
          .then((ls) => ls.forEach(done))
          .catch((err: unknown) => {
            clearTimeout(timer)
            reject(err)
          })
      })
    } finally {
      watcher.stop()
    }
  }

  /** The lease file of the network's dnsmasq (as recorded when this handle was opened or last applied). */
  leaseFilePath(): string | undefined {
    const dir = this.state?.dnsmasq?.stateDir
    return dir ? join(dir, 'leases') : undefined
  }

  private async leaseFile(): Promise<string | undefined> {
    const state = this.state ?? (await readState(this.stateDir))
    const dir = state?.dnsmasq?.stateDir
    return dir ? join(dir, 'leases') : undefined
  }

  /** A lease with the port whose guest MAC it is. */
  private withPort(l: Lease): PortLease {
    const port = this.planValue.ports.find((p) => p.mac === l.mac)?.name
    return port ? { ...l, port } : { ...l }
  }

  /** Release this handle's sockets; the network stays up (a detached dnsmasq keeps running). */
  close(): void {
    // Not waited for: a repair under way is cancelled or finishes on its own (its promise never rejects).
    void this.stopWatching()
    this.rtnlValue?.close()
    this.rtnlValue = undefined
  }

  /** `await using net = ...`: takes the network down. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.down()
  }
}

/** The vxlan section of a spec; a SpecError on `vxlan` when the network has none. */
function vxlanSection(spec: NetworkSpec, network: string): NetworkVxlanSpec {
  const vxlan = 'vxlan' in spec ? spec.vxlan : undefined
  if (!vxlan) throw new SpecError('vxlan', `network ${network} has no vxlan segment (add one to its spec and run up)`)
  return vxlan
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {}
}

/** One call at a time, in order: concurrent journal writes must not interleave in the same file. */
function serialized(fn: () => Promise<void>): () => Promise<void> {
  let last: Promise<void> = Promise.resolve()
  return () => {
    const next = last.then(fn, fn)
    last = next.catch(() => undefined)
    return next
  }
}

/** The lease file's leases; a file that exists but cannot be read is a SystemError naming it. */
async function readLeases(file: string): Promise<Lease[]> {
  try {
    return await readLeaseFile(file)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (typeof e.errno !== 'number') throw err
    throw new SystemError({ errno: e.errno, syscall: 'open', path: file, message: `cannot read the lease file ${file}: ${e.code ?? e.errno}`, cause: err })
  }
}
