/** macvtap networks: the parent NIC must exist, and the optional host macvlan lets the host reach guests. */
import { SpecError, ignoreNotFound } from '../../errors.js'
import type { LinkInfo } from '../../rtnl/index.js'
import type { ApplyContext } from '../driver.js'
import { type MacvtapPlan } from '../plan.js'
import { linkNamesOf } from '../kinds/plan-parts.js'
import { assertSubnetFree } from './bridge.js'
import { assertOurs, isHalfMade } from './links-common.js'
import { ensureAddresses } from './bridge.js'

export async function findParent(ctx: ApplyContext, plan: MacvtapPlan): Promise<LinkInfo> {
  const parent = await ctx.rtnl.findLink(plan.parent)
  if (!parent) throw new SpecError('interface', `no interface named ${plan.parent} in this namespace`)
  if (parent.kind === 'bridge') throw new SpecError('interface', `${parent.name} is a bridge; macvtap needs a NIC`)
  return parent
}

export async function ensureHostHelper(ctx: ApplyContext, plan: MacvtapPlan, parent: LinkInfo): Promise<void> {
  const { rtnl, tx } = ctx
  const h = plan.hostHelper
  if (!h) return
  let helper = await rtnl.findLink(h.name)
  const owner = { group: plan.group, names: linkNamesOf(plan) }
  if (helper) assertOurs(helper, plan.alias.host, 'hostAccess', owner)
  if (helper && isHalfMade(helper, owner)) {
    const link = helper
    await tx.step('host-macvlan-alias', 'links', () => rtnl.setLink(link.index, { alias: plan.alias.host }))
  }
  await assertSubnetFree(rtnl, { v4: h.subnet }, new Set(helper ? [helper.index] : []))
  if (!helper) {
    helper = await tx.step('host-macvlan', 'links', async (s) => {
      const link = await rtnl.addLink({
        kind: 'macvlan',
        name: h.name,
        parent: parent.index,
        mode: 'bridge',
        group: plan.group,
        alias: plan.alias.host,
        ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
      })
      s.onUndo(() => rtnl.deleteLink(link.index).catch(ignoreNotFound))
      return link
    })
  }
  await ensureAddresses(ctx, helper, h.addresses, { prune: true })
  const link = helper
  if (!link.up || !parent.up) {
    await tx.step('host-macvlan-up', 'links', async () => {
      if (!parent.up) await rtnl.setLink(parent.index, { up: true })
      await rtnl.setLink(link.index, { up: true })
    })
  }
}
