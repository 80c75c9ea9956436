/**
 * The Network handle: what an orchestrator holds. `up()` makes the kernel match the spec (creating,
 * or converging an existing network: same spec twice changes nothing), `down()` removes everything the
 * network owns and puts back what it borrowed (a NIC's addresses and routes, sysctls), and the port,
 * forward, reservation and peer methods change one part without touching the rest. What is specific to
 * a kind is its driver's (kinds/); what a change does to the spec is edits.ts's; the handle runs the
 * driver inside a transaction, under the network's lock.
 */
import { EventEmitter } from 'node:events'
import { KvmnetError, NotFoundError, SpecError, isNotFound } from '../errors.js'
import { Netns, nsLabel } from '../netns/index.js'
import { Rtnl } from '../rtnl/index.js'
import { Nft } from '../nft/index.js'
import type { Dnsmasq } from '../dnsmasq/index.js'
import { portInterfaceXml } from '../libvirt-host/index.js'
import { isNetworkName, NETWORK_NAME_RULE, Transaction, monotonicMs } from '../util/index.js'
import type { RepairOutcome } from '../watch/index.js'
import { applyContextOf, attachPort, converge, detachPort, dismantle } from './converge.js'
import { convergeEdits } from './converge-edits.js'
import { DnsmasqHolder, relayDnsmasqEvents } from './dnsmasq-holder.js'
import type { ApplyContext } from './driver.js'
import * as edits from './edits.js'
import { kindOf, type PlannedNetwork } from './kinds/index.js'
import { addressPollOf, readAddresses, type PortAddress } from './addresses.js'
import { leaseFileOf, liveLeases, waitForLease, withPort, type PortLease } from './leases.js'
import { DEFAULT_LOCK_TIMEOUT_MS, report, type ApplyOptions, type ApplyReport, type NetworkEvents, type NetworkOptions, type UpOptions } from './options.js'
import type { NetworkPlan, PlannedPort } from './plan.js'
import { PortFds } from './port-fds.js'
import { emptyRuntime } from './runtime.js'
import type { DhcpHostSpec, ForwardSpec, NetworkMode, NetworkSpec, NetworkSpecInput, PortSpec } from './spec.js'
import { DEFAULT_STATE_ROOT, networkGone, readState, stateDirFor, stateLabel, type NetworkState, type RuntimeAdditions } from './state.js'
import { networkStatus, type NetworkStatus } from './status.js'
import { tightenDnsmasqFiles } from './steps/dnsmasq-files.js'
import { portInfo, portInfos, type PortInfo } from './steps/ports.js'
import { assertTapFree } from './steps/tap-holders.js'
import { withResolvedMtu } from './steps/vxlan.js'
import { validateSpec } from './validate.js'
import { Watching, watcherHooks } from './watching.js'
import { checkReachableBy, prepareStateRoot } from '../state-root/index.js'
import { withNetworkLock } from './lock.js'

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
  if (!isNetworkName(name)) throw new SpecError('NAME', `'${name}' is not a network name (${NETWORK_NAME_RULE})`)
  const dir = stateDirFor(options.stateRoot ?? DEFAULT_STATE_ROOT, stateLabel(ns), name)
  const state = await readState(dir)
  if (!state) throw new NotFoundError(`network ${name}`, `no network named ${name} in namespace ${nsLabel(ns)}`)
  return new Network(validateSpec(state.spec), { ...options, netns: ns }, state)
}

type Edit = (spec: NetworkSpec, runtime: RuntimeAdditions) => [NetworkSpec, RuntimeAdditions]

export class Network extends EventEmitter<NetworkEvents> implements AsyncDisposable {
  readonly ns: Netns
  readonly stateDir: string
  private readonly stateRoot: string
  private planned: PlannedNetwork
  private state: NetworkState | undefined
  private rtnlValue: Rtnl | undefined
  private nftValue: Nft | undefined
  private readonly dnsmasq: DnsmasqHolder
  private readonly portFds = new PortFds()
  private readonly opts: NetworkOptions
  private readonly watch = new Watching()
  private readonly addressPoll = addressPollOf(this, () => this.name, () => this.addresses())

  constructor(spec: NetworkSpec, options: NetworkOptions = {}, state?: NetworkState) {
    super()
    this.opts = options
    this.stateRoot = options.stateRoot ?? DEFAULT_STATE_ROOT
    this.planned = kindOf(spec).plan(this.stateRoot)
    this.state = state
    this.ns = resolveNetns(spec, options.netns)
    this.stateDir = stateDirFor(this.stateRoot, stateLabel(this.ns), spec.name)
    this.dnsmasq = new DnsmasqHolder(this.ns, options.dnsmasq ?? 'supervised', (d) => this.wireDnsmasq(d))
    if (options.onStep) this.on('step', options.onStep)
  }

  get name(): string {
    return this.planned.name
  }
  get mode(): NetworkMode {
    return this.planned.mode
  }
  get spec(): NetworkSpec {
    return this.planned.spec
  }
  get plan(): NetworkPlan {
    return this.planned.plan
  }
  /** The network's bridge (undefined for macvtap networks). */
  get bridge(): string | undefined {
    return this.planned.bridge
  }
  /** Whether this handle is watching its network (`watch: true`, after `up()`, until `down()`/`close()`). */
  get watching(): boolean {
    return this.watch.active
  }

  private get rtnl(): Rtnl {
    this.rtnlValue ??= Rtnl.open(this.ns)
    return this.rtnlValue
  }
  private get nft(): Nft {
    // Without libnftables every change runs the nft program: said once per handle.
    this.nftValue ??= new Nft(this.ns, { onFallback: (w) => this.emit('warning', { ...w, network: this.name }) })
    return this.nftValue
  }

  private tx(phase: 'apply' | 'teardown'): Transaction {
    return new Transaction(this.name, phase, (e) => this.emit('step', e), this.opts.faultInjector)
  }

  private applyContext(tx: Transaction, state: NetworkState, prev: NetworkState | undefined, newFds: Map<string, number[]>, o: ApplyOptions): ApplyContext {
    const warn: ApplyContext['warn'] = (w) => this.emit('warning', { ...w, network: this.name })
    return applyContextOf({ ns: this.ns, rtnl: this.rtnl, nft: this.nft, stateDir: this.stateDir, dnsmasq: this.dnsmasq.slot(), warn }, { tx, state, prev, newFds, prunePorts: o.prunePorts !== false, dnsmasqReload: o.dnsmasqReload })
  }

  /**
   * Create the network, or converge an existing one to the spec (ports, forwards, reservations added and
   * removed; a kind changed to another kind with its own bridge). A failure undoes what this call created,
   * newest first, and rethrows.
   */
  async up(newSpec?: NetworkSpecInput, opts: UpOptions = {}): Promise<ApplyReport> {
    const spec = newSpec !== undefined ? validateSpec(newSpec) : this.spec
    if (spec.name !== this.name) throw new SpecError('name', `cannot rename network ${this.name} to ${spec.name}`)
    // The state root before anything: a refused one leaves the namespace untouched.
    prepareStateRoot(this.stateRoot, 'stateRoot')
    if ((this.opts.dnsmasq ?? 'supervised') === 'detached' && (spec === this.spec ? this.planned : kindOf(spec).plan(this.stateRoot)).dnsmasq) checkReachableBy(this.stateRoot, 'nobody', 'stateRoot')
    const r = await this.locked(async () => {
      // What is recorded now (another process may have changed it since this handle last looked).
      const prev = await readState(this.stateDir)
      const [full, runtime] = edits.fullSpecEdit(spec, prev, { prune: opts.prune === true })
      return this.apply(full, prev, runtime)
    })
    if (this.opts.watch) await this.startWatching()
    return r
  }

  private async startWatching(): Promise<void> {
    const epoch = this.watch.epoch
    await this.watch.start(
      watcherHooks({
        ns: this.ns,
        planned: () => this.planned,
        rtnl: () => this.rtnl,
        repair: () => this.repair(epoch),
        repaired: (e) => this.emit('repaired', e),
        failed: (e) => this.emit('repair-failed', e),
      }),
    )
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
        if (epoch !== this.watch.epoch) return undefined
        this.dnsmasq.forgetDeadDetached()
        const state = await this.recordedState()
        return this.apply(validateSpec(state.spec), state, state.runtime ?? emptyRuntime())
      }, { timeoutMs })
      return r && { steps: r.steps, dnsmasqRunning: this.dnsmasq.current?.running ?? false }
    } catch (err) {
      // Taken down by another process, or its namespace deleted: nothing left to look after. Anything
      // else not found (a link or table removed again while the repair ran) is a failed repair, retried.
      if (err instanceof NotFoundError && (await networkGone(this.ns, this.stateDir))) return undefined
      throw err
    }
  }

  /** Runs `fn` holding the network's lock (lock.ts); `removeAfter` (down) removes the lock file after. */
  private locked<T>(fn: () => Promise<T>, opts: { removeAfter?: boolean; timeoutMs?: number } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
    return withNetworkLock({ stateDir: this.stateDir, network: this.name, timeoutMs, removeAfter: opts.removeAfter, mute: () => this.watch.mute() }, fn)
  }

  /** The apply itself, under the lock, from the state as recorded (`prev`). */
  private async apply(spec: NetworkSpec, prev: NetworkState | undefined, runtime: RuntimeAdditions, o: ApplyOptions = {}): Promise<ApplyReport> {
    const start = monotonicMs()
    const old = this.planned
    const net = spec === old.spec ? old : kindOf(spec).plan(this.stateRoot) // the same spec's plan is made already
    const tx = this.tx('apply')
    this.planned = net
    try {
      const supervised = (this.opts.dnsmasq ?? 'supervised') === 'supervised'
      const context = (st: NetworkState, fds: Map<string, number[]>) => this.applyContext(tx, st, prev, fds, o)
      const input = { ns: this.ns, rtnl: this.rtnl, nft: this.nft, stateRoot: this.stateRoot, stateDir: this.stateDir, net, prev, runtime, tx, supervised, context }
      const { state, newFds } = await (o.edits ? convergeEdits({ ...input, was: old }) : converge(input))
      this.state = state
      this.portFds.adopt(newFds)
      this.portFds.keepOnly(new Set(net.plan.ports.map((p) => p.name)))
    } catch (err) {
      // The network is back where it was, and so is the handle's idea of it.
      this.planned = old
      throw err
    }
    return report(this.name, start, tx.timings)
  }

  private wireDnsmasq(d: Dnsmasq): void {
    const ports = () => this.planned.plan.ports
    relayDnsmasqEvents(d, {
      lease: (l) => this.emit('lease', withPort(ports(), l)),
      expired: (l, why) => this.emit('lease-expired', withPort(ports(), l), why),
      died: () => this.watch.note({ kind: 'dnsmasq', what: 'dnsmasq' }),
      restarted: (info) => {
        // A restarted dnsmasq wrote a new pid file for its unprivileged user: take it back.
        const dir = this.state?.dnsmasq?.stateDir
        const warn = (err: Error) => this.emit('warning', { code: 'dnsmasq-files', network: this.name, object: dir ?? '', message: `dnsmasq's files stayed its own after its restart: ${err.message}`, fix: `kvmnet up ${this.name}'s spec again` })
        if (dir) tightenDnsmasqFiles(dir).catch(warn)
        this.emit('dnsmasq-restart', info)
      },
    }, this)
  }

  /**
   * Remove everything the network owns (links in its group, its nft table, dnsmasq, state) and put back
   * what it borrowed (a NIC's addresses and routes, sysctls). Safe to call when parts are already gone.
   */
  async down(opts: { lockTimeoutMs?: number } = {}): Promise<ApplyReport> {
    // First, or the teardown itself would be repaired; a repair under way ends first (it holds the lock).
    await this.watch.stop()
    return this.locked(() => this.teardown(), { removeAfter: true, timeoutMs: opts.lockTimeoutMs })
  }

  private async teardown(): Promise<ApplyReport> {
    const start = monotonicMs()
    const tx = this.tx('teardown')
    const state = await readState(this.stateDir)
    // The recorded kind is what was built; the handle's spec may be a newer one never applied.
    const net = state ? kindOf(state.spec).plan(this.stateRoot) : this.planned
    try {
      await dismantle({ ns: this.ns, rtnl: this.rtnl, nft: this.nft, stateDir: this.stateDir, dnsmasq: this.dnsmasq.slot(), tx, state, net })
    } finally {
      this.portFds.dropAll()
      this.state = undefined
      this.close()
    }
    return report(this.name, start, tx.timings)
  }

  /** What is there now, read from the kernel (filtered requests, no full dumps), nft and dnsmasq. */
  async status(): Promise<NetworkStatus> {
    const state = this.state ?? (await readState(this.stateDir))
    const d = await this.dnsmasq.handle(state)
    const net = this.planned
    return networkStatus({ ns: this.ns, rtnl: this.rtnl, nft: this.nft, state, dnsmasq: d }, net.plan, (c) => net.problems(c))
  }

  /**
   * Add a VM port (tap or macvtap) to a running network, recorded as a runtime addition (a later `up` of a
   * spec without it refuses to remove it unless told to prune). Returns its name, guest MAC, ifindex, and
   * fds or /dev/tapN.
   */
  async addPort(port: PortSpec): Promise<PortInfo> {
    return this.locked(async () => {
      const state = await this.recordedState()
      const [edited, runtime] = edits.addPortEdit(state.spec, state.runtime ?? emptyRuntime(), port)
      const spec = validateSpec(edited)
      const net = kindOf(spec).plan(this.stateRoot)
      // A vxlan's underlay decides the MTU: the new tap gets the one its bridge has.
      const plan = await withResolvedMtu(this.rtnl, net.plan)
      const planned = plan.ports.find((p) => p.name === port.name)
      if (!planned) throw new KvmnetError(`port ${port.name} missing from its own plan`)
      const tx = this.tx('apply')
      const newFds = new Map<string, number[]>()
      const next: NetworkState = { ...state, spec, runtime }
      await attachPort({ tx, ctx: this.applyContext(tx, next, state, newFds, { prunePorts: false }), plan, port: planned, rules: net.firewall, learning: net.learning, newFds })
      this.portFds.adopt(newFds)
      this.planned = net
      this.state = next
      return portInfo(planned, await this.rtnl.getLink(planned.name), this.portFds.of(planned.name))
    })
  }

  /**
   * Remove a VM port; its fds (if this handle holds them) are closed. A tap that another process still
   * holds open (QEMU, or fds taken with takePortFds) is refused with an InUseError unless `force`.
   */
  async removePort(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.locked(async () => {
      const state = await this.recordedState()
      const [spec, runtime] = edits.removePortEdit(state.spec, state.runtime ?? emptyRuntime(), name)
      const recorded = kindOf(state.spec).plan(this.stateRoot)
      if (!opts.force && recorded.plan.ports.find((p) => p.name === name)?.kind === 'tap') await assertTapFree(name, this.portFds.ownKeys(name))
      const next: NetworkState = { ...state, spec: validateSpec(spec), runtime }
      const net = kindOf(next.spec).plan(this.stateRoot)
      const tx = this.tx('apply')
      await detachPort({ tx, ctx: this.applyContext(tx, next, state, new Map(), { prunePorts: false }), plan: net.plan, name, rules: net.firewall, learning: net.learning })
      this.portFds.drop(name)
      ;[this.planned, this.state] = [net, next]
    })
  }

  /** The fds of a non-persistent tap port, to hand to the hypervisor. The handle keeps ownership. */
  portFdsOf(name: string): readonly number[] {
    return this.portFds.of(name)
  }

  /**
   * Take over a non-persistent tap's fds: the handle forgets them (never closes them), so a VM manager
   * passes them to QEMU and the tap lives exactly as long as someone holds one.
   */
  takePortFds(name: string): number[] {
    return this.portFds.take(name)
  }

  async ports(): Promise<PortInfo[]> {
    return portInfos(this.rtnl, this.planned.plan, (name) => this.portFds.of(name))
  }

  /** The `<interface>` element attaching a libvirt domain to port `name` (src/libvirt-host/interface-xml.ts). */
  libvirtInterfaceXml(name: string): string {
    return portInterfaceXml(this.name, this.planned.plan.ports, name)
  }

  /** Add a port forward (nat networks), recorded as a runtime addition. */
  async addForward(f: ForwardSpec): Promise<ApplyReport> {
    return this.change((spec, runtime) => edits.addForwardEdit(spec, runtime, f))
  }

  async removeForward(f: Pick<ForwardSpec, 'proto' | 'hostPort'> & { hostAddress?: string }): Promise<ApplyReport> {
    return this.change((spec, runtime) => edits.removeForwardEdit(spec, runtime, f))
  }

  /** Add a DHCP reservation, recorded as a runtime addition. */
  async addReservation(h: DhcpHostSpec): Promise<ApplyReport> {
    return this.change((spec, runtime) => edits.addReservationEdit(spec, runtime, h))
  }

  /** Remove the reservation for a MAC (or IP). */
  async removeReservation(macOrIp: string): Promise<ApplyReport> {
    return this.change((spec, runtime) => edits.removeReservationEdit(spec, runtime, macOrIp))
  }

  /**
   * Add a VXLAN peer (another host's underlay address: floods are sent there too), recorded as a runtime
   * addition so a later `up` of a spec without it is a visible difference. Adding a peer already there
   * changes nothing.
   */
  async addPeer(ip: string): Promise<ApplyReport> {
    return this.change((spec, runtime) => edits.addPeerEdit(spec, runtime, ip))
  }

  /** Remove a VXLAN peer: its flooding entry goes, so frames flooded on this host no longer reach it. */
  async removePeer(ip: string): Promise<ApplyReport> {
    return this.change((spec, runtime) => edits.removePeerEdit(spec, runtime, ip))
  }

  /**
   * A change to one part, computed under the lock from the spec as recorded now — not this handle's copy,
   * which another process may have changed since (its forward would otherwise be silently dropped).
   */
  private async change(edit: Edit): Promise<ApplyReport> {
    return this.locked(async () => {
      const state = await this.recordedState()
      const [spec, runtime] = edit(state.spec, state.runtime ?? emptyRuntime())
      return this.apply(validateSpec(spec), state, runtime)
    })
  }

  /**
   * Several changes at once (reservations, forwards), decided under the network's lock from the spec and
   * runtime additions as recorded now and applied in one go: an orchestrator picking a free address for a
   * new guest cannot race another one picking the same (kvmnet-cni's ADD). `edit` returns the new spec
   * and runtime additions (edits.ts has the usual ones), or undefined for nothing to do (no apply,
   * resolves undefined). Only the steps the edit changes run (converge-edits.ts). `dnsmasqReload`: see ApplyOptions.
   */
  async update(edit: (spec: NetworkSpec, runtime: RuntimeAdditions) => [NetworkSpec, RuntimeAdditions] | undefined, o: Pick<ApplyOptions, 'dnsmasqReload'> = {}): Promise<ApplyReport | undefined> {
    return this.locked(async () => {
      const state = await this.recordedState()
      const next = edit(state.spec, state.runtime ?? emptyRuntime())
      return next ? this.apply(validateSpec(next[0]), state, next[1], { ...o, edits: true }) : undefined
    })
  }

  /** The state as recorded; NotFoundError when the network is not up. */
  private async recordedState(): Promise<NetworkState> {
    const state = await readState(this.stateDir)
    if (!state) throw new NotFoundError(`network ${this.name}`, `network ${this.name} is not up`)
    return state
  }

  /** The DHCP leases from dnsmasq's lease file (also with dnsmasq stopped or not ours); an unreadable file is an error, never []. */
  async leases(): Promise<PortLease[]> {
    const file = await this.leaseFile()
    return file ? liveLeases(file, this.planned.plan.ports) : []
  }

  /** Every guest's addresses: live leases, and what the kernel learned from the guests' traffic (addresses.ts). */
  async addresses(): Promise<PortAddress[]> {
    return readAddresses({ nft: this.nft, ports: this.planned.plan.ports, learning: this.planned.learning, leases: () => this.leases() })
  }

  /** Resolves with the first live lease of a port (by name) or MAC; TimeoutError after `timeoutMs`. */
  async waitForLease(portOrMac: string, opts: { timeoutMs: number }): Promise<PortLease> {
    const ports = this.planned.plan.ports
    const mac = (ports.find((p) => p.name === portOrMac)?.mac ?? portOrMac).toLowerCase()
    return waitForLease(await this.leaseFile(), this.name, portOrMac, mac, ports, opts.timeoutMs)
  }

  /** The lease file of the network's dnsmasq (as recorded when this handle was opened or last applied). */
  leaseFilePath(): string | undefined {
    return leaseFileOf(this.state)
  }

  private async leaseFile(): Promise<string | undefined> {
    return leaseFileOf(this.state ?? (await readState(this.stateDir)))
  }

  /** Release this handle's sockets; the network stays up (a detached dnsmasq keeps running). */
  close(): void {
    // Not waited for: a repair under way is cancelled or finishes on its own (its promise never rejects).
    void this.watch.stop()
    this.addressPoll.stop()
    this.rtnlValue?.close()
    this.rtnlValue = undefined
    this.nftValue?.close()
  }

  /** `await using net = ...`: takes the network down. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.down()
  }
}
