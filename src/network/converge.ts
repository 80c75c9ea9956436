/**
 * One apply of a spec, from the state as recorded: the namespace and kind checks, the journal written
 * before anything changes (so a process killed at any moment leaves a state `down` and `gc` can finish
 * from), the kind's driver, and the final state. A failure undoes what this apply did, newest first.
 */
import { KvmnetError, NotFoundError, SpecError, ignoreNotFound, isNotFound } from '../errors.js'
import type { Netns } from '../netns/index.js'
import { nsLabel } from '../netns/index.js'
import type { Rtnl } from '../rtnl/index.js'
import type { AddressLearning, Nft, NetworkRules } from '../nft/index.js'
import { isoTime, processStartTime, serialized, monotonicMs } from '../util/index.js'
import type { Transaction } from '../util/index.js'
import type { ApplyContext, DnsmasqSlot, TeardownContext } from './driver.js'
import { capturedService, forwardsOf, forwardsOverlap, hostAddressesOf, kindOf, ownAliases, portAnchorOf, shapedTaps, type PlannedNetwork } from './kinds/index.js'
import type { NetworkPlan, PlannedPort } from './plan.js'
import { ensureFirewall } from './steps/firewall.js'
import { ensureLearning } from './steps/learning.js'
import { ensureBandwidth } from './steps/bandwidth.js'
import { concurrently } from './steps/concurrent.js'
import { closeAll } from './port-fds.js'
import type { NetworkSpec } from './spec.js'
import { lastingNs, netnsIdentity, removeState, stateLabel, writeState, type NetworkState, type RuntimeAdditions } from './state.js'
import { assertGroupOurs, ensurePorts } from './steps/ports.js'
import { preflight } from './kinds/preflight.js'
import { otherNetworks } from './other-states.js'
import { startNftLook } from './nft-look.js'
import { startedEarly } from './started.js'

let ownStart: Promise<string | undefined> | undefined
/** This process's start time: read once (it never changes), not from /proc on every apply. */
export function ownStartTime(): Promise<string | undefined> {
  ownStart ??= processStartTime(process.pid)
  return ownStart
}

/** What every apply of one handle shares, and what this apply has of its own. */
export function applyContextOf(
  handle: Pick<ApplyContext, 'ns' | 'rtnl' | 'nft' | 'stateDir' | 'dnsmasq' | 'warn'>,
  apply: Pick<ApplyContext, 'tx' | 'state' | 'prev' | 'newFds' | 'prunePorts' | 'dnsmasqReload'>,
): ApplyContext {
  const { stateDir } = handle
  const { state } = apply
  return { ...handle, ...apply, journal: serialized(() => writeState(stateDir, state)) }
}

export interface ConvergeInput {
  ns: Netns
  rtnl: Rtnl
  nft: Nft
  stateRoot: string
  stateDir: string
  net: PlannedNetwork
  prev: NetworkState | undefined
  runtime: RuntimeAdditions
  tx: Transaction
  /** Record this process as the network's owner (it supervises dnsmasq). */
  supervised: boolean
  /** The plan of `prev.spec`, when the caller has it (planned here otherwise). */
  was?: PlannedNetwork | undefined
  context(state: NetworkState, newFds: Map<string, number[]>): ApplyContext
}

/**
 * An apply's last step, a full converge's or an edit's (converge-edits.ts): the state recorded complete,
 * with its timings; a supervising handle's apply makes its process the network's owner.
 */
export async function recordApplied(input: Pick<ConvergeInput, 'tx' | 'supervised'>, ctx: ApplyContext, state: NetworkState, startTime: string | undefined, start: number): Promise<void> {
  await input.tx.step('state', 'state', async () => {
    state.owner = startTime && input.supervised ? { pid: process.pid, startTime } : state.owner
    state.applying = undefined
    state.lastApply = { at: isoTime(), totalMs: monotonicMs() - start, steps: [...input.tx.timings] }
    await ctx.journal()
  })
}

/** The state the apply completed, and the fds of taps it made (the caller's from now on). */
export async function converge(input: ConvergeInput): Promise<{ state: NetworkState; newFds: Map<string, number[]> }> {
  const { ns, net, prev, tx } = input
  const start = monotonicMs()
  const newFds = new Map<string, number[]>()
  try {
    const netnsId = netnsIdentity(ns)
    if (!netnsId) throw new NotFoundError(`network namespace ${nsLabel(ns)}`)
    if (prev && prev.netnsId !== netnsId) throw new KvmnetError(`state of ${net.name} belongs to another namespace`)
    const was = prev ? (input.was ?? kindOf(prev.spec).plan(input.stateRoot)) : undefined
    if (was && was.l2 !== net.l2) throw new SpecError('mode', `cannot converge a ${was.mode} network to ${net.mode}: take it down first`)
    // Where other processes will find the namespace (not this process's /proc/PID/…: see lastingNs).
    const where = lastingNs(ns, netnsId)
    // A first apply's transactions will run on the namespace's libnftables thread: started now (nftWarm).
    // And nf_tables read, both beside the checks below (the rules, learning and coexistence steps use the
    // reading later).
    const nftWarm = startedEarly(!prev && (net.firewall || net.learning) ? input.nft.warm() : Promise.resolve())
    const nftLook = startNftLook(ns, net.name)
    const base = { spec: net.spec, bridge: net.bridge, group: net.plan.group, runtime: input.runtime, netnsPath: where.path, netnsName: where.name }
    const state: NetworkState = prev ? { ...prev, ...base } : { ...base, version: 1, name: net.name, netnsId, createdAt: isoTime() }
    // Only this namespace's directory: the networks of other namespaces (a host with a hundred) cannot clash.
    // Only what the checks read (name, spec), each file read once while it is unchanged (other-states.ts):
    // a hundred ups re-read and re-validated ~5000 whole states, garbage that grew V8's young generation.
    const others = otherNetworks(input.stateRoot, stateLabel(ns), net.name).filter((o) => o.netnsId === netnsId)
    await assertForwardsFree(net.spec, others)
    // Checks that need the kernel (links taken, uplink and NIC present), before anything is changed.
    const { links, names } = await preflight(input.rtnl, net.plan, others, input.stateRoot, netnsId, was?.plan)
    const startTime = await ownStartTime()
    const linksBefore = prev ? undefined : { names, byName: new Map(links.map((l) => [l.name, l])) }
    const ctx = { ...input.context(state, newFds), nftLook, linksBefore }
    await tx.step('journal', 'state', async (s) => {
      if (startTime) state.applying = { pid: process.pid, startTime, since: isoTime() }
      // A first apply owns the state directory (dnsmasq's files live in it too): a rollback removes it.
      if (!prev) s.onUndo(() => removeState(input.stateDir))
      else s.onUndo(() => writeState(input.stateDir, prev))
      await ctx.journal()
    })
    // A group is this network's alone: down deletes it with one request.
    if (!prev) await assertGroupOurs(input.rtnl, net.plan.group, ownAliases(net.plan), net.linkNames, 'group', links)
    // A bridge network's learning table names its ports in a set (no device needed): made beside the
    // kind's apply. A macvtap network's hooks on its devices, so after them.
    if (net.learning?.family === 'netdev') {
      await net.apply(ctx)
      await ensureLearning(ctx, net.learning, net.name)
    } else await concurrently(() => net.apply(ctx), () => ensureLearning(ctx, net.learning, net.name))
    // Its failure (it changed nothing) is the apply's, like any other step's: never left unheard.
    await nftWarm()
    await recordApplied(input, ctx, state, startTime, start)
    tx.commit()
    return { state, newFds }
  } catch (err) {
    // Only this apply's fds: ports from earlier applies stay with whoever holds them.
    closeAll(newFds)
    return tx.rollback(err)
  }
}

export interface DismantleInput {
  ns: Netns
  rtnl: Rtnl
  nft: Nft
  stateDir: string
  dnsmasq: DnsmasqSlot
  tx: Transaction
  /** What the state records (undefined when there is none), and the plan to tear down. */
  state: NetworkState | undefined
  net: PlannedNetwork
}

/**
 * Remove what the network owns and put back what it borrowed, from the state alone. Every part is
 * attempted even if another failed; a part already gone is success. The failures are thrown together.
 */
export async function dismantle(input: DismantleInput): Promise<void> {
  const errors: unknown[] = []
  const ctx: TeardownContext = {
    ns: input.ns,
    rtnl: input.rtnl,
    nft: input.nft,
    state: input.state,
    stateDir: input.stateDir,
    dnsmasq: input.dnsmasq,
    attempt: async (step, cat, fn) => {
      try {
        await input.tx.step(step, cat, fn)
      } catch (err) {
        if (!isNotFound(err)) errors.push(err)
      }
    },
  }
  await input.net.teardown(ctx)
  if (errors.length === 1) throw errors[0]
  if (errors.length > 1) throw new AggregateError(errors, `teardown of ${input.net.name}: ${errors.length} steps failed`)
}

/**
 * One port added to a running network without a full converge: the port itself, and the rules again
 * where port filters need to learn it. The state is written when both are done; a failure undoes both.
 */
export async function attachPort(input: { tx: Transaction; ctx: ApplyContext; plan: NetworkPlan; port: PlannedPort; rules: NetworkRules | undefined; learning: AddressLearning | undefined; newFds: Map<string, number[]> }): Promise<void> {
  const { tx, ctx, plan } = input
  try {
    // A port with limits, like one of the spec's: made down, shaped, then raised (ensureBandwidth); a
    // network cap or a floor changes the bridge's and the IFB's classes for it too.
    await ensurePorts(ctx, plan, portAnchorOf(plan), [input.port], { raiseLater: shapedTaps(plan) })
    await ensureBandwidth(ctx, plan)
    // A filtered port needs its rules (and every other filter learns its reservation).
    if (input.rules?.portFilters?.length) await ensureFirewall(ctx, input.rules)
    // A macvtap port needs its own egress chain to be learned from.
    await ensureLearning(ctx, input.learning, plan.name)
    await writeState(ctx.stateDir, ctx.state)
    tx.commit()
  } catch (err) {
    closeAll(input.newFds)
    await tx.rollback(err)
  }
}


/**
 * One port removed from a running network: the rules and the learning table without it first (both undone
 * on failure: a filter keyed on its name would otherwise hold for the next port of that name, another
 * guest with another MAC), then its link, which cannot come back; the state last.
 */
export async function detachPort(input: { tx: Transaction; ctx: ApplyContext; plan: NetworkPlan; name: string; rules: NetworkRules | undefined; learning: AddressLearning | undefined }): Promise<void> {
  const { tx, ctx, name } = input
  try {
    await ensureFirewall(ctx, input.rules)
    await ensureLearning(ctx, input.learning, ctx.state.spec.name)
    await tx.step({ name: 'remove-ports', detail: name }, 'links', async (s) => {
      s.outcome('removed')
      await ctx.rtnl.deleteLink(name).catch(ignoreNotFound)
    })
    // Its IFB, its floor under the bridge's cap and its class under the network's outbound cap go too.
    await ensureBandwidth(ctx, input.plan)
    await writeState(ctx.stateDir, ctx.state)
    tx.commit()
  } catch (err) {
    await tx.rollback(err)
  }
}

/**
 * Two networks in one namespace forwarding the same host port would both install DNAT rules for it, and
 * every connection would go to whichever table the kernel consults first: refused before anything. A
 * network whose state cannot be read cannot be checked; listStates names it to status and gc.
 */
export function assertForwardsFree(spec: NetworkSpec, others: readonly Pick<NetworkState, 'name' | 'spec'>[]): void {
  const mine = forwardsOf(spec)
  if (mine.length === 0) return
  for (const state of others) {
    const theirs = forwardsOf(state.spec)
    const services = hostAddressesOf(state.spec)
    mine.forEach((f, i) => {
      // Another network's DNS/DHCP on its gateway: a forward there would hand its guests' resolver to ours.
      const service = f.hostAddress !== undefined ? capturedService(f, services) : undefined
      if (service) throw new SpecError(`forwards[${i}].hostPort`, `would capture network ${state.name}'s ${service} on ${f.hostAddress}`)
      const j = theirs.findIndex((g) => forwardsOverlap(f, g))
      if (j >= 0) throw new SpecError(`forwards[${i}].hostPort`, `overlaps network ${state.name}'s forwards[${j}] in this namespace`)
    })
  }
}
