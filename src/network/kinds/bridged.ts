/**
 * The apply every bridged kind with its own L2 shares (nat, routed, open, isolated, very-isolated): the
 * bridge with exactly the planned host addresses, then — depending on nothing else and on each other not
 * at all — sysctls and rules, dnsmasq, and ports, run together. A part the kind does not have is removed
 * if a converge from another kind left it (a table, a dnsmasq, forwarding sysctls).
 */
import { SpecError } from '../../errors.js'
import type { ApplyContext, StatusContext } from '../driver.js'
import { dnsmasqOf, firewallOf, type NetworkPlan, type BridgePart } from '../plan.js'
import { ensureBridgeWithAddresses } from '../steps/bridge.js'
import { concurrently } from '../steps/concurrent.js'
import { ensureDnsmasq } from '../steps/dnsmasq.js'
import { ensureFirewall } from '../steps/firewall.js'
import { ensurePorts } from '../steps/ports.js'
import { ensureSysctls } from '../steps/sysctls.js'

export async function applyBridgedNetwork(ctx: ApplyContext, plan: Extract<NetworkPlan, BridgePart>): Promise<void> {
  // Checks that need the kernel, before anything is created.
  const uplink = firewallOf(plan)?.nat?.uplink ?? firewallOf(plan)?.routed?.uplink
  if (uplink !== undefined) {
    if (uplink === plan.bridge) throw new SpecError('uplink', "is the network's own bridge")
    if (!(await ctx.rtnl.findLink(uplink))) throw new SpecError('uplink', `no interface named ${uplink} in this namespace`)
  }
  await ensureBridgeWithAddresses(ctx, plan)
  await concurrently(
    async () => {
      await ensureSysctls(ctx, plan.sysctls, ctx.sysctlsOf)
      await ensureFirewall(ctx, firewallOf(plan))
    },
    () => ensureDnsmasq(ctx, dnsmasqOf(plan)),
    () => ensurePorts(ctx, plan, { bridge: plan.bridge }, plan.ports),
  )
}

/** Nothing kind-specific to check beyond the shared bridge, ports, nft and dnsmasq checks. */
export async function noExtraProblems(_ctx: StatusContext, _plan: NetworkPlan): Promise<string[]> {
  return []
}
