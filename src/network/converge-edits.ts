/**
 * An edit of a running network's reservations, DNS records and forwards (Network.update: kvmnet-cni's ADD
 * and DEL) applied as the steps it changes and no others: the journal, kvmnet's table replaced in one
 * transaction when its rules changed, dnsmasq reloaded when its configuration changed, the state. A full
 * converge re-checks and re-reads everything else the network has (bridge, addresses, sysctls, the other
 * firewalls, the learning table, ports) — most of a CNI ADD's time for parts the edit does not touch.
 *
 * Only when the edit leaves every other part of the plan as it is, the last apply finished, and the bridge
 * is there and up; otherwise the full converge runs (it also repairs what it finds broken). Parts the edit
 * does not change are not looked at: a table flushed behind kvmnet's back stays for the watcher or the next
 * `up` to repair, unless the edit replaces it anyway.
 */
import { KvmnetError, NotFoundError } from '../errors.js'
import { nsLabel } from '../netns/index.js'
import { isoTime, monotonicMs } from '../util/index.js'
import { assertForwardsFree, converge, ownStartTime, recordApplied, type ConvergeInput } from './converge.js'
import { bridgeOf, type PlannedNetwork } from './kinds/index.js'
import type { NetworkPlan } from './plan.js'
import { closeAll } from './port-fds.js'
import { concurrently } from './steps/concurrent.js'
import { ensureDnsmasq } from './steps/dnsmasq.js'
import { ensureFirewall } from './steps/firewall.js'
import { otherNetworks } from './other-states.js'
import { netnsIdentity, stateLabel, writeState, type NetworkState } from './state.js'

/** The plan without the parts an edit may change (the rules, dnsmasq's configuration), as text to compare. */
function restOf(plan: NetworkPlan): string {
  return JSON.stringify({ ...plan, firewall: undefined, dnsmasq: undefined })
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * Whether going from `was` to `net` changes only the rules and dnsmasq's configuration: the same kind,
 * bridge, addresses, ports, sysctls, learning, and what the other firewalls are told (the DHCP/DNS ports
 * and host services they let through).
 */
export function onlyEdits(was: PlannedNetwork, net: PlannedNetwork): boolean {
  return (
    was.mode === net.mode &&
    bridgeOf(net.plan) !== undefined &&
    (was.firewall === undefined) === (net.firewall === undefined) &&
    (was.dnsmasq === undefined) === (net.dnsmasq === undefined) &&
    restOf(was.plan) === restOf(net.plan) &&
    same(was.coexistTarget({ evenIfOff: true }), net.coexistTarget({ evenIfOff: true }))
  )
}

/**
 * The edit applied as its own steps when it qualifies (see above), else the full converge. `was` is the
 * handle's plan, used when it is the recorded spec's (it is planned again otherwise).
 */
export async function convergeEdits(input: ConvergeInput & { was: PlannedNetwork }): Promise<{ state: NetworkState; newFds: Map<string, number[]> }> {
  const { ns, net, prev, tx } = input
  const was = prev && same(input.was.spec, prev.spec) ? input.was : undefined
  if (!prev || prev.applying || !was || !onlyEdits(was, net)) return converge({ ...input, was })
  // The bridge the attachments join, ours and up: else the full converge makes it again.
  const bridge = await input.rtnl.findLink(bridgeOf(net.plan) ?? '')
  if (!bridge || !bridge.up || bridge.kind !== 'bridge' || bridge.alias !== net.plan.alias.bridge) return converge({ ...input, was })
  const start = monotonicMs()
  const newFds = new Map<string, number[]>()
  try {
    const netnsId = netnsIdentity(ns)
    if (!netnsId) throw new NotFoundError(`network namespace ${nsLabel(ns)}`)
    if (prev.netnsId !== netnsId) throw new KvmnetError(`state of ${net.name} belongs to another namespace`)
    const rules = !same(was.firewall, net.firewall)
    if (rules) {
      // As the full converge checks them: each other state file read once while it is unchanged.
      assertForwardsFree(net.spec, otherNetworks(input.stateRoot, stateLabel(ns), net.name).filter((o) => o.netnsId === netnsId))
    }
    const state: NetworkState = { ...prev, spec: net.spec, runtime: input.runtime }
    const startTime = await ownStartTime()
    const ctx = input.context(state, newFds)
    await tx.step('journal', 'state', async (s) => {
      if (startTime) state.applying = { pid: process.pid, startTime, since: isoTime() }
      s.onUndo(() => writeState(input.stateDir, prev))
      await ctx.journal()
    })
    // The rules first: their transaction is the edit's slowest part, and closing the nft thread's socket
    // (when this process is done with the namespace, or exits) waits for the cleanup of the table it
    // replaced, an RCU grace period after the commit. dnsmasq's step, synchronous reads for the most part,
    // waits a turn of the event loop, so that the rules are rendered and handed to the nft thread first.
    await concurrently(
      () => (rules ? ensureFirewall(ctx, net.firewall) : Promise.resolve()),
      async () => {
        if (same(was.dnsmasq, net.dnsmasq)) return
        if (rules) await new Promise((resolve) => setImmediate(resolve))
        await ensureDnsmasq(ctx, net.dnsmasq)
      },
    )
    await recordApplied(input, ctx, state, startTime, start)
    tx.commit()
    return { state, newFds }
  } catch (err) {
    closeAll(newFds)
    return tx.rollback(err)
  }
}
