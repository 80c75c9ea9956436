/**
 * bridge (external): a physical NIC is enslaved to the bridge and its addresses and routes move to it,
 * so guests are directly on the NIC's LAN and the host keeps its connectivity. The bridge takes the
 * NIC's MAC and MTU (the LAN's DHCP leases and ARP caches stay valid); DHCP/DNS are the LAN's.
 */
import { ManagedInterfaceError, SpecError } from '../../errors.js'
import { describeManager, handOverHint, nicManagers } from '../nic-manager.js'
import type { NetworkDriver } from '../driver.js'
import { basePlan, bridgePart, planTaps } from '../plan.js'
import { ensureBridge, ensureUp } from '../steps/bridge.js'
import { concurrently } from '../steps/concurrent.js'
import { ensureDnsmasq } from '../steps/dnsmasq.js'
import { ensureCoexistence, ensureFirewall } from '../steps/firewall.js'
import { moveNicToBridge } from '../steps/nic.js'
import { ensurePorts } from '../steps/ports.js'
import { bandwidthDrift, ensureBandwidth } from '../steps/bandwidth.js'
import { shapedTaps } from './bandwidth.js'
import { ensureSysctls } from '../steps/sysctls.js'
import { teardownNetwork } from '../steps/teardown.js'
import { ensureVxlan, resolveUnderlay } from '../steps/vxlan.js'
import { MAX_BRIDGE_PORTS, bridgedNames, checkNotLoopback, checkPorts } from './checks.js'

export const bridgeDriver: NetworkDriver<'bridge'> = {
  mode: 'bridge',
  check(spec, bad) {
    if (spec.bridge !== undefined && spec.bridge === spec.interface) bad('bridge', 'must differ from interface')
    checkNotLoopback(spec.interface, bad)
    checkPorts(spec.ports, bad, {
      taken: [{ name: spec.interface, field: 'NIC' }, ...bridgedNames(spec)],
      // The NIC takes one of the bridge's ports.
      maxPorts: MAX_BRIDGE_PORTS - 1,
      noFilters: 'bridge',
    })
  },
  plan(spec) {
    // Not `noHostAddress`: the NIC's own addresses move onto the bridge.
    return { ...basePlan(spec, planTaps(spec), []), ...bridgePart(spec, {}, { takesNic: true }), noHostAddress: false, nic: spec.interface, adoptManagedInterface: spec.adoptManagedInterface ?? false }
  },
  async apply(ctx, plan) {
    const nic = await ctx.rtnl.findLink(plan.nic)
    if (!nic) throw new SpecError('interface', `no interface named ${plan.nic} in this namespace`)
    const existing = await ctx.rtnl.findLink(plan.bridge)
    if (nic.master !== undefined && nic.master !== existing?.index)
      throw new SpecError('interface', `${nic.name} is already enslaved to another master (ifindex ${nic.master})`)
    // A NIC not yet moved: whoever configures it must let go first (or be handed over, when allowed).
    const moved = existing !== undefined && nic.master === existing.index
    const managers = moved ? [] : await nicManagers(ctx.ns, nic.name, nic.index)
    if (managers.length > 0 && !plan.adoptManagedInterface) {
      throw new ManagedInterfaceError('interface', nic.name, managers.map(describeManager), managers.map((m) => handOverHint(m, nic.name, plan.bridge)))
    }
    // The bridge keeps the NIC's MTU (the LAN's); only the vxlan fits its underlay.
    const underlay = plan.vxlan ? await resolveUnderlay(ctx.rtnl, plan.vxlan) : undefined
    const br = await ensureBridge(ctx, plan, nic)
    if (nic.master !== br.index) await moveNicToBridge(ctx, nic, br, managers)
    await ensureUp(ctx, br, 'bridge-up')
    await concurrently(
      () => ensureSysctls(ctx, plan.sysctls),
      async () => {
        await ensureFirewall(ctx, undefined)
        await ensureCoexistence(ctx, plan)
      },
      () => ensureDnsmasq(ctx, undefined),
      async () => {
        await ensurePorts(ctx, plan, { bridge: plan.bridge }, plan.ports, { raiseLater: shapedTaps(plan) })
        await ensureBandwidth(ctx, plan)
      },
      () => ensureVxlan(ctx, plan, underlay),
    )
  },
  teardown: teardownNetwork,
  async problems(ctx, plan) {
    const [nic, br] = await Promise.all([ctx.rtnl.findLink(plan.nic), ctx.rtnl.findLink(plan.bridge)])
    if (!nic) return [`NIC ${plan.nic} missing`]
    if (br && nic.master !== br.index) return [`NIC ${plan.nic} is not enslaved to ${plan.bridge}`]
    return bandwidthDrift(ctx.rtnl, plan, ctx.seen)
  },
}
