/**
 * The Network handle: what an orchestrator holds. `up()` makes the kernel match the spec (creating,
 * or converging an existing network: same spec twice changes nothing), `down()` removes everything the
 * network owns and puts back what it borrowed (a NIC's addresses and routes, sysctls), and the port,
 * forward and reservation methods change one part without touching the rest.
 */
import { EventEmitter } from 'node:events'
import { createHash } from 'node:crypto'
import { closeSync } from 'node:fs'
import { join } from 'node:path'
import { KvmnetError, NotFoundError, SpecError, isNotFound } from '../errors.js'
import { Netns } from '../netns/index.js'
import { nsLabel } from '../netns/exec.js'
import { Rtnl, type LinkInfo } from '../rtnl/index.js'
import { Nft, renderRules, tableExists, type NetworkRules } from '../nft/index.js'
import { Dnsmasq, type Lease } from '../dnsmasq/index.js'
import { planNetwork, planPort, type NetworkPlan, type PlannedPort } from './plan.js'
import { validateSpec, type DhcpHostSpec, type ForwardSpec, type NetworkSpec, type NetworkSpecInput, type PortSpec } from './spec.js'
import {
  DEFAULT_STATE_ROOT,
  readState,
  removeState,
  stateDirFor,
  writeState,
  type NetworkState,
} from './state.js'
import { processStartTime } from '../util/process-start-time.js'
import { Transaction, type StepEvent, type StepTiming } from './transaction.js'
import { applyLinks, applyPorts, removePortLinks, restoreNic, type PortInfo } from './apply-links.js'
import { applySysctls, restoreSysctls } from './apply-sysctls.js'
import { networkStatus, type NetworkStatus } from './status.js'

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
  /**
   * Test hook: called before each step; throwing from it simulates a failure part-way through an apply.
   * Not for production use.
   */
  faultInjector?: (step: string) => void
}

export interface ApplyReport {
  network: string
  /** Wall time of the whole apply or teardown, ms. */
  totalMs: number
  steps: StepTiming[]
  /** Durations summed per category (links, addresses, routes, sysctls, nft, dnsmasq, state). */
  byCategory: Record<string, number>
}

export interface NetworkEvents {
  step: [StepEvent]
  lease: [Lease]
  'dnsmasq-restart': [unknown]
}

function report(network: string, start: number, steps: StepTiming[]): ApplyReport {
  const byCategory: Record<string, number> = {}
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
export function createNetwork(spec: NetworkSpecInput | unknown, options: NetworkOptions = {}): Network {
  return new Network(validateSpec(spec), options)
}

/** A handle on an existing network, from its state (another process built it). */
export async function openNetwork(name: string, options: NetworkOptions = {}): Promise<Network> {
  const ns = options.netns instanceof Netns ? options.netns : options.netns ? Netns.open(options.netns) : Netns.current()
  const dir = stateDirFor(options.stateRoot ?? DEFAULT_STATE_ROOT, nsLabel(ns), name)
  const state = await readState(dir)
  if (!state) throw new NotFoundError(`network ${name}`, `no network named ${name} in namespace ${nsLabel(ns)}`)
  const net = new Network(state.spec, { ...options, netns: ns })
  net.state = state
  return net
}

export class Network extends EventEmitter<NetworkEvents> implements AsyncDisposable {
  readonly ns: Netns
  readonly stateDir: string
  private specValue: NetworkSpec
  private planValue: NetworkPlan
  /** @internal */
  state: NetworkState | undefined
  private rtnlValue: Rtnl | undefined
  private nftValue: Nft | undefined
  private dnsmasqValue: Dnsmasq | undefined
  private portFds = new Map<string, number[]>()
  private readonly opts: NetworkOptions

  constructor(spec: NetworkSpec, options: NetworkOptions = {}) {
    super()
    this.opts = options
    this.specValue = spec
    this.planValue = planNetwork(spec)
    this.ns = resolveNetns(spec, options.netns)
    this.stateDir = stateDirFor(options.stateRoot ?? DEFAULT_STATE_ROOT, nsLabel(this.ns), spec.name)
    if (options.onStep) this.on('step', options.onStep)
  }

  get name(): string {
    return this.specValue.name
  }
  get spec(): NetworkSpec {
    return this.specValue
  }
  get plan(): NetworkPlan {
    return this.planValue
  }

  /** @internal */
  get rtnl(): Rtnl {
    this.rtnlValue ??= Rtnl.open(this.ns)
    return this.rtnlValue
  }
  /** @internal */
  get nft(): Nft {
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

  /**
   * Create the network, or converge an existing one to the spec (ports, forwards, reservations added and
   * removed). A failure undoes what this call created, newest first, and rethrows.
   */
  async up(newSpec?: NetworkSpecInput): Promise<ApplyReport> {
    const start = performance.now()
    const [oldSpec, oldPlan] = [this.specValue, this.planValue]
    if (newSpec !== undefined) {
      const spec = validateSpec(newSpec)
      if (spec.name !== this.name) throw new SpecError('name', `cannot rename network ${this.name} to ${spec.name}`)
      this.specValue = spec
      this.planValue = planNetwork(spec)
    }
    const plan = this.planValue
    const tx = this.tx('apply')
    const prev = this.state ?? (await readState(this.stateDir))
    if (prev && prev.netnsPath !== this.ns.path && prev.netnsName !== this.ns.name)
      throw new KvmnetError(`state of ${this.name} belongs to another namespace`)
    const state: NetworkState = prev
      ? { ...prev, spec: this.specValue, bridge: plan.bridge, group: plan.group }
      : {
          version: 1,
          name: this.name,
          netnsPath: this.ns.path,
          netnsName: this.ns.name,
          spec: this.specValue,
          bridge: plan.bridge,
          group: plan.group,
          sysctls: [],
          createdAt: new Date().toISOString(),
        }
    const newFds = new Map<string, number[]>()
    try {
      if (!prev) {
        // A first apply owns the state directory (dnsmasq's files live in it too): a rollback removes it.
        await tx.step('state-dir', 'state', (s) => {
          s.onUndo(() => removeState(this.stateDir))
        })
      }
      await applyLinks(this.rtnl, this.ns, tx, plan, state, this.specValue)
      // Once the bridge and its address exist, rules, dnsmasq and ports depend on nothing else and on
      // each other not at all: run them together (the apply then costs the slowest, not the sum).
      // allSettled, not all: every branch must have registered its undos before a rollback starts.
      const results = await Promise.allSettled([
        applySysctls(this.ns, tx, plan, state).then(() => (plan.firewall ? this.applyFirewall(tx, plan, state, prev) : undefined)),
        plan.dnsmasq ? this.applyDnsmasq(tx, plan, state) : prev?.dnsmasq ? this.stopDnsmasq(tx, state) : undefined,
        applyPorts(this.rtnl, this.ns, tx, plan, plan.ports, { prune: true }).then((fds) => {
          for (const [name, f] of fds) newFds.set(name, f)
        }),
      ])
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      await tx.step('state', 'state', async () => {
        const startTime = await processStartTime(process.pid)
        state.owner = startTime && this.dnsmasqMode() === 'supervised' ? { pid: process.pid, startTime } : state.owner
        state.lastApply = { at: new Date().toISOString(), totalMs: performance.now() - start, steps: [...tx.timings] }
        await writeState(this.stateDir, state)
      })
    } catch (err) {
      // Only this apply's fds: ports from earlier applies stay with whoever holds them.
      for (const f of newFds.values()) for (const fd of f) closeQuietly(fd)
      // The network is back where it was, and so is the handle's idea of it.
      this.specValue = oldSpec
      this.planValue = oldPlan
      await tx.rollback(err)
    }
    tx.commit()
    for (const [name, f] of newFds) this.portFds.set(name, f)
    // Ports the new spec dropped were deleted: their fds (non-persistent taps) go with them.
    const planned = new Set(plan.ports.map((p) => p.name))
    for (const [name, f] of this.portFds) {
      if (planned.has(name)) continue
      for (const fd of f) closeQuietly(fd)
      this.portFds.delete(name)
    }
    this.state = state
    return report(this.name, start, tx.timings)
  }

  private dnsmasqMode(): 'supervised' | 'detached' {
    return this.opts.dnsmasq ?? 'supervised'
  }

  /**
   * The rules to install: the plan's, with a nat network's uplink defaulting to the device of the
   * namespace's IPv4 default route (when there is one), so guests are masqueraded only on the way out.
   */
  private async resolveFirewall(plan: NetworkPlan): Promise<NetworkRules> {
    const rules = plan.firewall!
    if (rules.mode !== 'nat' || rules.nat?.uplink) return rules
    const def = (await this.rtnl.listRoutes({ family: 4 })).find((r) => r.dst === 'default')
    const dev = def?.devName ?? (def?.dev !== undefined ? (await this.rtnl.findLink(def.dev))?.name : undefined)
    return dev && dev !== plan.bridge ? { ...rules, nat: { ...rules.nat, uplink: dev } } : rules
  }

  private async applyFirewall(tx: Transaction, plan: NetworkPlan, state: NetworkState, prev: NetworkState | undefined): Promise<void> {
    await tx.step('nft', 'nft', async (s) => {
      const rules = await this.resolveFirewall(plan)
      const hash = createHash('sha256').update(JSON.stringify(renderRules(rules))).digest('hex')
      if (prev?.nftHash === hash && (await tableExists(this.ns, rules.tag))) {
        s.outcome('unchanged')
        return
      }
      const before = prev?.nftRules
      await this.nft.apply(rules)
      s.outcome(before ? 'updated' : 'created')
      s.onUndo(async () => {
        if (before) await this.nft.apply(before)
        else await this.nft.remove(rules.tag)
      })
      state.nftHash = hash
      state.nftRules = rules
    })
  }

  private async dnsmasqHandle(state: NetworkState): Promise<Dnsmasq | undefined> {
    if (this.dnsmasqValue) return this.dnsmasqValue
    if (!state.dnsmasq) return undefined
    const adopted = await Dnsmasq.adopt(this.ns, state.dnsmasq.stateDir).catch(() => undefined)
    if (adopted) this.wireDnsmasq(adopted)
    this.dnsmasqValue = adopted
    return adopted
  }

  private wireDnsmasq(d: Dnsmasq): void {
    d.on('lease-added', (l: Lease) => this.emit('lease', l))
    d.on('lease-changed', (l: Lease) => this.emit('lease', l))
    d.on('restart', (info: unknown) => this.emit('dnsmasq-restart', info))
  }

  private async applyDnsmasq(tx: Transaction, plan: NetworkPlan, state: NetworkState): Promise<void> {
    const stateDir = join(this.stateDir, 'dnsmasq')
    const spec = { ...plan.dnsmasq!, stateDir }
    await tx.step('dnsmasq', 'dnsmasq', async (s) => {
      const running = await this.dnsmasqHandle(state)
      if (running) {
        const changed = await running.reload(spec)
        s.outcome(changed === false ? 'unchanged' : 'updated')
        return
      }
      const detached = this.dnsmasqMode() === 'detached'
      const d = new Dnsmasq(this.ns, spec, { detached })
      this.wireDnsmasq(d)
      await d.start()
      this.dnsmasqValue = d
      state.dnsmasq = { stateDir, detached }
      s.outcome('created')
      s.onUndo(async () => {
        this.dnsmasqValue = undefined
        state.dnsmasq = undefined
        await d.stop()
      })
    })
  }

  private async stopDnsmasq(tx: Transaction, state: NetworkState): Promise<void> {
    await tx.step('dnsmasq-stop', 'dnsmasq', async () => {
      const d = await this.dnsmasqHandle(state)
      await d?.stop()
      this.dnsmasqValue = undefined
      state.dnsmasq = undefined
    })
  }

  /**
   * Remove everything the network owns (links in its group, its nft table, dnsmasq, state) and put back
   * what it borrowed (a NIC's addresses and routes, sysctls). Safe to call when parts are already gone.
   */
  async down(): Promise<ApplyReport> {
    const start = performance.now()
    const tx = this.tx('teardown')
    const state = this.state ?? (await readState(this.stateDir))
    const errors: unknown[] = []
    const attempt = async (step: string, cat: Parameters<Transaction['step']>[1], fn: () => Promise<void>) => {
      try {
        await tx.step(step, cat, fn)
      } catch (err) {
        if (!isNotFound(err)) errors.push(err)
      }
    }
    if (state?.dnsmasq || this.dnsmasqValue) {
      await attempt('dnsmasq', 'dnsmasq', async () => {
        const d = state ? await this.dnsmasqHandle(state) : this.dnsmasqValue
        await d?.stop()
        this.dnsmasqValue = undefined
      })
    }
    if (this.planValue.firewall) await attempt('nft', 'nft', () => this.nft.remove(this.name))
    await attempt('links', 'links', async () => {
      await removePortLinks(this.rtnl, this.planValue, state)
    })
    if (state?.nic) {
      const nic = state.nic
      await attempt('restore-nic', 'addresses', () => restoreNic(this.rtnl, nic))
    }
    if (state) await attempt('sysctls', 'sysctls', () => restoreSysctls(this.ns, state, this.stateDir))
    await attempt('state', 'state', () => removeState(this.stateDir))
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
    const d = state ? await this.dnsmasqHandle(state) : undefined
    return networkStatus(this, state, d)
  }

  /** Add a VM port (tap or macvtap) to a running network. Returns its name, MAC, ifindex, and fds or /dev/tapN. */
  async addPort(port: PortSpec): Promise<PortInfo> {
    const ports = [...(this.specValue.ports ?? []).filter((p) => p.name !== port.name), port]
    const spec = validateSpec({ ...this.specValue, ports })
    const planned = planPort(spec, port)
    const tx = this.tx('apply')
    let info: PortInfo | undefined
    try {
      const fds = await applyPorts(this.rtnl, this.ns, tx, planNetwork(spec), [planned], { prune: false })
      for (const [name, f] of fds) this.portFds.set(name, f)
      this.specValue = spec
      this.planValue = planNetwork(spec)
      if (this.state) {
        this.state.spec = spec
        await writeState(this.stateDir, this.state)
      }
      info = await this.portInfo(planned)
    } catch (err) {
      await tx.rollback(err)
    }
    tx.commit()
    return info!
  }

  /** Remove a VM port; its fds (if this handle holds them) are closed. */
  async removePort(name: string): Promise<void> {
    const ports = (this.specValue.ports ?? []).filter((p) => p.name !== name)
    if (ports.length === (this.specValue.ports ?? []).length) throw new NotFoundError(`port ${name}`)
    await this.rtnl.deleteLink(name).catch((err) => {
      if (!isNotFound(err)) throw err
    })
    for (const fd of this.portFds.get(name) ?? []) closeQuietly(fd)
    this.portFds.delete(name)
    await this.replaceSpec({ ...this.specValue, ports })
  }

  /** The fds of a non-persistent tap port, to hand to the hypervisor. The handle keeps ownership. */
  portFdsOf(name: string): readonly number[] {
    return this.portFds.get(name) ?? []
  }

  async ports(): Promise<PortInfo[]> {
    return Promise.all(this.planValue.ports.map((p) => this.portInfo(p)))
  }

  private async portInfo(p: PlannedPort): Promise<PortInfo> {
    const link: LinkInfo = await this.rtnl.getLink(p.name)
    return {
      name: p.name,
      kind: p.kind,
      mac: link.mac ?? p.mac,
      index: link.index,
      up: link.up,
      tapDevice: link.tapDevice,
      fds: this.portFds.get(p.name),
    }
  }

  async addForward(f: ForwardSpec): Promise<ApplyReport> {
    return this.up({ ...this.specValue, forwards: [...(this.specValue.forwards ?? []), f] })
  }

  async removeForward(f: Pick<ForwardSpec, 'proto' | 'hostPort'> & { hostAddress?: string }): Promise<ApplyReport> {
    const same = (g: ForwardSpec) =>
      g.proto === f.proto && JSON.stringify(g.hostPort) === JSON.stringify(f.hostPort) && (g.hostAddress ?? '') === (f.hostAddress ?? '')
    const forwards = (this.specValue.forwards ?? []).filter((g) => !same(g))
    if (forwards.length === (this.specValue.forwards ?? []).length) throw new NotFoundError(`forward ${f.proto}/${JSON.stringify(f.hostPort)}`)
    return this.up({ ...this.specValue, forwards })
  }

  async addReservation(h: DhcpHostSpec): Promise<ApplyReport> {
    const dhcp = this.specValue.ipv4?.dhcp
    if (!dhcp) throw new SpecError('ipv4.dhcp', 'this network has no DHCP')
    return this.up({ ...this.specValue, ipv4: { ...this.specValue.ipv4, dhcp: { ...dhcp, hosts: [...(dhcp.hosts ?? []), h] } } })
  }

  /** Remove the reservation for a MAC (or IP). */
  async removeReservation(macOrIp: string): Promise<ApplyReport> {
    const dhcp = this.specValue.ipv4?.dhcp
    const key = macOrIp.toLowerCase()
    const hosts = (dhcp?.hosts ?? []).filter((h) => h.mac.toLowerCase() !== key && h.ip !== key)
    if (!dhcp || hosts.length === (dhcp.hosts ?? []).length) throw new NotFoundError(`reservation ${macOrIp}`)
    return this.up({ ...this.specValue, ipv4: { ...this.specValue.ipv4, dhcp: { ...dhcp, hosts } } })
  }

  async leases(): Promise<Lease[]> {
    const state = this.state ?? (await readState(this.stateDir))
    const d = state ? await this.dnsmasqHandle(state) : undefined
    return d ? d.leases() : []
  }

  private async replaceSpec(spec: NetworkSpecInput): Promise<void> {
    this.specValue = validateSpec(spec)
    this.planValue = planNetwork(this.specValue)
    if (this.state) {
      this.state.spec = this.specValue
      await writeState(this.stateDir, this.state)
    }
  }

  /** Release this handle's sockets; the network stays up (a detached dnsmasq keeps running). */
  close(): void {
    this.rtnlValue?.close()
    this.rtnlValue = undefined
  }

  /** `await using net = ...`: takes the network down. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.down()
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {}
}
