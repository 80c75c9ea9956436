/**
 * Teardown shared by every kind, from the recorded state (the spec may have changed since, or the
 * process that built the network may be gone): dnsmasq, the nft table, every link of the network's group,
 * a borrowed NIC, sysctls, the state directory. Each part is attempted even if another failed.
 */
import type { TeardownContext } from '../driver.js'
import type { NetworkPlan } from '../plan.js'
import { bridgeOf, firewallOf, linkNamesOf, ownAliases } from '../kinds/plan-parts.js'
import { removeState } from '../state.js'
import { removeCoexist } from '../../coexist/index.js'
import { restoreNic } from './nic.js'
import { stopStrayDnsmasqs } from './stray-dnsmasq.js'
import { removeNetworkLinks } from './ports.js'
import { releaseSysctls } from '../sysctl-ledger.js'

export async function teardownNetwork(ctx: TeardownContext, plan: NetworkPlan): Promise<void> {
  const { state } = ctx
  const bridge = state?.bridge ?? bridgeOf(plan)
  const aliases = ownAliases(plan)
  const coexist = state?.coexist
  // dnsmasq, the table and the links do not depend on each other: removed at once, so teardown costs the
  // slowest of them (the kernel's link deletion, or one nft run) rather than their sum.
  await Promise.all([
    ctx.attempt('dnsmasq', 'dnsmasq', async () => {
      const d = await ctx.dnsmasq.current(state)
      await d?.stop()
      ctx.dnsmasq.set(undefined)
      // None that the pid file leads to, but the state says one was started: find it by its config path.
      if (!d && state?.dnsmasq) await stopStrayDnsmasqs(ctx.ns, state.dnsmasq.stateDir)
    }),
    // Whatever the kind: a converge may have left a table of an earlier kind, and removal is idempotent.
    state?.nftRules || firewallOf(plan) ? ctx.attempt('nft', 'nft', () => ctx.nft.remove(plan.name)) : undefined,
    // Address learning (every kind but open; removal is idempotent, so also after a converge from one).
    ctx.attempt('learn', 'nft', () => ctx.nft.removeLearning(plan.name)),
    ctx.attempt('links', 'links', () => removeNetworkLinks(ctx.rtnl, state?.group ?? plan.group, aliases, bridge, linkNamesOf(plan))),
    // What was added to other firewalls (Docker's DOCKER-USER, ufw, firewalld): kvmnet's tagged rules only.
    coexist ? ctx.attempt('coexist', 'nft', async () => void (await removeCoexist(ctx.ns, plan.name, coexist))) : undefined,
  ])
  const nic = state?.nic
  if (nic) await ctx.attempt('restore-nic', 'addresses', () => restoreNic(ctx.rtnl, nic, ctx.ns))
  await ctx.attempt('sysctls', 'sysctls', () => releaseSysctls(ctx.ns, ctx.stateDir, plan.name))
  // Under the network's lock, whose file keeps the namespace's directory: the lock removes it after.
  await ctx.attempt('state', 'state', () => removeState(ctx.stateDir, { parents: false }))
}
