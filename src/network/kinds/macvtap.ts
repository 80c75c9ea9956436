/**
 * macvtap: each guest gets a macvtap on the parent NIC (QEMU opens /dev/tapN), directly on the NIC's LAN.
 * The host cannot reach its own macvtaps through the parent; `hostAccess` adds a host macvlan in bridge
 * mode carrying the host address, which fixes that.
 */
import type { NetworkDriver } from '../driver.js'
import { basePlan, networkOf, planMacvtapPort } from '../plan.js'
import { concurrently } from '../steps/concurrent.js'
import { ensureDnsmasq } from '../steps/dnsmasq.js'
import { ensureFirewall } from '../steps/firewall.js'
import { ensureHostHelper, findParent } from '../steps/macvtap-host.js'
import { ensurePorts } from '../steps/ports.js'
import { ensureSysctls } from '../steps/sysctls.js'
import { teardownNetwork } from '../steps/teardown.js'
import { defaultBridgeName } from '../names.js'
import { checkNotLoopback, checkPorts } from './checks.js'

/** macvtap host helper: kvh-<name>, within 15 bytes. */
export function hostHelperName(network: string): string {
  return defaultBridgeName(network).replace(/^kvbr-/, 'kvh-')
}

export const macvtapDriver: NetworkDriver<'macvtap'> = {
  mode: 'macvtap',
  check(spec, bad) {
    if (spec.hostAccess && !spec.ipv4) bad('ipv4.address', 'hostAccess needs the host address for the macvlan helper')
    if (!spec.hostAccess && spec.ipv4) bad('ipv4.address', 'a macvtap network carries a host address only with hostAccess')
    checkNotLoopback(spec.interface, bad)
    const taken = [{ name: spec.interface, field: 'NIC' }, ...(spec.hostAccess ? [{ name: hostHelperName(spec.name), field: 'host helper' }] : [])]
    checkPorts(spec.ports, bad, { taken })
  },
  plan(spec) {
    const address = spec.ipv4?.address
    return {
      ...basePlan(spec, (spec.ports ?? []).map((p, i) => planMacvtapPort(spec.name, p, i)), []),
      parent: spec.interface,
      macvtapMode: spec.macvtapMode ?? 'bridge',
      hostHelper: spec.hostAccess && address ? { name: hostHelperName(spec.name), addresses: [address], subnet: networkOf(address) } : undefined,
    }
  },
  async apply(ctx, plan) {
    const parent = await findParent(ctx, plan)
    await ensureHostHelper(ctx, plan, parent)
    await concurrently(
      () => ensureSysctls(ctx, plan.sysctls),
      () => ensureFirewall(ctx, undefined),
      () => ensureDnsmasq(ctx, undefined),
      () => ensurePorts(ctx, plan, { parent: plan.parent, mode: plan.macvtapMode }, plan.ports),
    )
  },
  teardown: teardownNetwork,
  async problems(ctx, plan) {
    const out: string[] = []
    const parent = await ctx.rtnl.findLink(plan.parent)
    if (!parent) out.push(`parent NIC ${plan.parent} missing`)
    else if (!parent.up) out.push(`parent NIC ${plan.parent} down`)
    if (plan.hostHelper) {
      const h = await ctx.rtnl.findLink(plan.hostHelper.name)
      if (!h) out.push(`host macvlan ${plan.hostHelper.name} missing`)
      else if (!h.up) out.push(`host macvlan ${plan.hostHelper.name} down`)
    }
    return out
  },
}
