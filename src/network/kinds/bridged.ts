/**
 * The apply every bridged kind with its own L2 shares (nat, routed, open, isolated, very-isolated): the
 * bridge with exactly the planned host addresses, then — depending on nothing else and on each other not
 * at all — sysctls and rules, dnsmasq, and ports, run together. A part the kind does not have is removed
 * if a converge from another kind left it (a table, a dnsmasq, forwarding sysctls).
 */
import { SpecError } from '../../errors.js'
import type { ApplyContext, StatusContext } from '../driver.js'
import { type NetworkPlan, type BridgePart, type WantedSysctl } from '../plan.js'
import { dnsmasqOf, firewallOf } from './plan-parts.js'
import { RTPROT_RA, readSysctl } from '../../rtnl/index.js'
import { ensureAddresses, ensureBridge, ensureUp } from '../steps/bridge.js'
import { concurrently } from '../steps/concurrent.js'
import { ensureDnsmasq } from '../steps/dnsmasq.js'
import { defaultDevEarly, ensureCoexistence, ensureFirewall } from '../steps/firewall.js'
import { ensurePorts } from '../steps/ports.js'
import { bandwidthDrift, ensureBandwidth } from '../steps/bandwidth.js'
import { shapedTaps } from './bandwidth.js'
import { ensureSysctls } from '../steps/sysctls.js'
import { claimedSysctls } from '../sysctl-ledger.js'
import { ensureVxlan, resolveVxlan } from '../steps/vxlan.js'

export async function applyBridgedNetwork(ctx: ApplyContext, planned: Extract<NetworkPlan, BridgePart>): Promise<void> {
  // Checks that need the kernel, before anything is created; a vxlan's underlay decides the MTU.
  const { plan, underlay } = await resolveVxlan(ctx.rtnl, planned)
  const uplink = firewallOf(plan)?.nat?.uplink ?? firewallOf(plan)?.routed?.uplink
  // Asked now, answered while the bridge is made: the rules step below sends its transaction without waiting.
  const defaultDev = defaultDevEarly(ctx, firewallOf(plan))
  if (uplink !== undefined) {
    if (uplink === plan.bridge) throw new SpecError('uplink', "is the network's own bridge")
    if (!(await ctx.rtnl.findLink(uplink))) throw new SpecError('uplink', `no interface named ${uplink} in this namespace`)
  }
  const br = await ensureBridge(ctx, plan)
  await ensureAddresses(ctx, br, plan.addresses, { prune: true })
  // Many ports on a new bridge are enslaved before it goes up: each port joining a bridge that is up
  // re-runs the bridge's port-state selection over every port (O(n²) in the kernel); on a bridge that
  // is down, raising it does that once. Measured: ~13% less for 1000 taps. Few ports keep overlapping
  // with the rules and dnsmasq instead.
  const portsFirst = !br.up && plan.ports.length >= MANY_PORTS
  // The bridge as made or found above: the ports step neither looks it up again nor lists a new one's ports.
  const portOpts = { raiseLater: shapedTaps(plan), bridge: br }
  if (portsFirst) await ensurePorts(ctx, plan, { bridge: plan.bridge }, plan.ports, portOpts)
  await ensureUp(ctx, br, 'bridge-up')
  const uplinkRa = await uplinkAcceptRa(ctx, plan)
  await concurrently(
    // First: starting dnsmasq is the longest of these (a spawn, then its sockets polled), and every
    // branch runs its first part in this order before any waits.
    () => ensureDnsmasq(ctx, dnsmasqOf(plan)),
    // accept_ra=2 before forwarding (one step, in that order): turning forwarding on purges RA default
    // routes where accept_ra < 2. The rules do not wait for it: they run on libnftables' thread while the
    // sysctls are written on this one (one after the other they were ~1 ms more of every apply).
    () => ensureSysctls(ctx, [...uplinkRa, ...plan.sysctls]),
    () => ensureFirewall(ctx, firewallOf(plan), defaultDev),
    // Other firewalls of the namespace are read (and told) beside kvmnet's own table, not after it.
    () => ensureCoexistence(ctx, plan),
    // Limits go on the ports once they exist.
    async () => {
      if (!portsFirst) await ensurePorts(ctx, plan, { bridge: plan.bridge }, plan.ports, portOpts)
      await ensureBandwidth(ctx, plan)
    },
    () => ensureVxlan(ctx, plan, underlay),
  )
}

/** From how many ports enslaving them before the bridge is up pays for not overlapping them with the rest. */
const MANY_PORTS = 64

/**
 * With IPv6 forwarding on, the kernel ignores router advertisements on every interface whose accept_ra
 * is 1 — so an uplink whose own IPv6 default route came from RA would lose it when the route expires.
 * accept_ra=2 keeps accepting them; the old value goes back on down (libvirt refuses to start instead).
 */
async function uplinkAcceptRa(ctx: ApplyContext, plan: Extract<NetworkPlan, BridgePart>): Promise<WantedSysctl[]> {
  if (!plan.sysctls.some((s) => s.key === 'net/ipv6/conf/all/forwarding')) return []
  const dev = (await ctx.rtnl.defaultRoute(6, { protocol: RTPROT_RA }))?.devName
  if (!dev || dev === plan.bridge) return []
  const key = `net/ipv6/conf/${dev}/accept_ra`
  const now = (await readSysctl(ctx.ns, key).catch(() => '')).trim()
  // Already 2 (or 0: the administrator turned RA off there) — nothing kvmnet should change.
  return now === '1' || (await claimedSysctls(ctx.stateDir, ctx.state.name)).includes(key) ? [{ key, value: '2' }] : []
}

/** Beyond the shared bridge, ports, nft and dnsmasq checks: the bandwidth limits (a qdisc deleted by hand). */
export async function noExtraProblems(ctx: StatusContext, plan: NetworkPlan): Promise<string[]> {
  return bandwidthDrift(ctx.rtnl, plan, ctx.seen)
}
