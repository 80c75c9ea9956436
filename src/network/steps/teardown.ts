/**
 * Teardown shared by every kind, from the recorded state (the spec may have changed since, or the
 * process that built the network may be gone): dnsmasq, the nft table, every link of the network's group,
 * a borrowed NIC, sysctls, the state directory. Each part is attempted even if another failed.
 */
import type { TeardownContext } from '../driver.js'
import type { NetworkPlan } from '../plan.js'
import { bridgeOf, linkNamesOf } from '../plan.js'
import { removeState } from '../state.js'
import { removeCoexist } from '../../coexist/coexist.js'
import { restoreNic } from './nic.js'
import { stopStrayDnsmasqs } from './stray-dnsmasq.js'
import { removeNetworkLinks } from './ports.js'
import { restoreSysctls, type SysctlsOfSpec } from './sysctls.js'

export async function teardownNetwork(ctx: TeardownContext, plan: NetworkPlan, othersNeed: SysctlsOfSpec): Promise<void> {
  const { state } = ctx
  await ctx.attempt('dnsmasq', 'dnsmasq', async () => {
    const d = await ctx.dnsmasq.current(state)
    await d?.stop()
    ctx.dnsmasq.set(undefined)
    // None that the pid file leads to, but the state says one was started: find it by its config path.
    if (!d && state?.dnsmasq) await stopStrayDnsmasqs(ctx.ns, state.dnsmasq.stateDir)
  })
  // Whatever the kind: a converge may have left a table of an earlier kind, and removal is idempotent.
  if (state?.nftRules || 'firewall' in plan) await ctx.attempt('nft', 'nft', () => ctx.nft.remove(plan.name))
  // What was added to other firewalls (Docker's DOCKER-USER, ufw, firewalld): kvmnet's tagged rules only.
  const coexist = state?.coexist
  if (coexist) await ctx.attempt('coexist', 'nft', async () => void (await removeCoexist(ctx.ns, plan.name, coexist)))
  const bridge = state?.bridge ?? bridgeOf(plan)
  const aliases = [plan.alias.bridge, plan.alias.port, plan.alias.host]
  await ctx.attempt('links', 'links', () => removeNetworkLinks(ctx.rtnl, state?.group ?? plan.group, aliases, bridge, linkNamesOf(plan)))
  const nic = state?.nic
  if (nic) await ctx.attempt('restore-nic', 'addresses', () => restoreNic(ctx.rtnl, nic))
  if (state) await ctx.attempt('sysctls', 'sysctls', () => restoreSysctls(ctx.ns, state, ctx.stateDir, othersNeed))
  await ctx.attempt('state', 'state', () => removeState(ctx.stateDir))
}
