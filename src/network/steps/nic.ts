/**
 * Bridge networks borrow a NIC: it is enslaved and its addresses and routes move to the bridge in one
 * step, so the host keeps its connectivity through the bridge. What was moved is recorded in the state,
 * and put back on down.
 */
import type { LinkInfo, RouteInfo, Rtnl } from '../../rtnl/index.js'
import type { ApplyContext } from '../driver.js'
import type { MovedAddress, MovedRoute, NetworkState } from '../state.js'
import { ignoreNotFound, isLinkLocal6, normCidr } from './links-common.js'

const RTPROT_KERNEL = 2

export async function moveNicToBridge(ctx: ApplyContext, nic: LinkInfo, br: LinkInfo): Promise<void> {
  const { rtnl, state } = ctx
  await ctx.tx.step('move-nic', 'addresses', async (s) => {
    const addrs = (await rtnl.listAddresses(nic.index)).filter((a) => !isLinkLocal6(a.cidr))
    const routes = (await rtnl.listRoutes({ dev: nic.index })).filter(
      (r) => r.protocol !== RTPROT_KERNEL && !(r.family === 6 && r.dst.toLowerCase().startsWith('fe80:')) && r.type === 'unicast',
    )
    const moved: NonNullable<NetworkState['nic']> = {
      name: nic.name,
      mac: nic.mac ?? '',
      mtu: nic.mtu,
      wasUp: nic.up,
      addresses: addrs.map((a) => ({ cidr: a.cidr, family: a.family })),
      routes: routes.map(toMoved),
    }
    state.nic = moved
    await ctx.journal()
    s.onUndo(async () => {
      await rtnl.setLink(nic.index, { master: null }).catch(ignoreNotFound)
      await restoreNic(rtnl, moved)
      state.nic = undefined
    })
    await rtnl.setLink(nic.index, { master: br.index, up: true })
    // Addresses first (their prefix routes come with them), then the routes that leaned on them.
    await Promise.all(addrs.map((a) => rtnl.deleteAddress(nic.index, a.cidr)))
    await Promise.all(addrs.map((a) => rtnl.addAddress(br.index, a.cidr)))
    await rtnl.setLink(br.index, { up: true })
    for (const r of moved.routes) await rtnl.replaceRoute({ ...fromMoved(r), dev: br.index })
  })
}

function toMoved(r: RouteInfo): MovedRoute {
  return { dst: r.dst, gateway: r.gateway, table: r.table, metric: r.metric, prefsrc: r.prefsrc, scope: r.scope, protocol: r.protocol, family: r.family }
}

function fromMoved(r: MovedRoute) {
  return {
    dst: r.dst,
    ...(r.gateway ? { gateway: r.gateway } : {}),
    ...(r.table !== undefined ? { table: r.table } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
    ...(r.prefsrc ? { prefsrc: r.prefsrc } : {}),
    ...(r.scope !== undefined ? { scope: r.scope } : {}),
    ...(r.protocol !== undefined ? { protocol: r.protocol } : {}),
  }
}

/** Put a NIC back as it was before a bridge network borrowed it. */
export async function restoreNic(rtnl: Rtnl, nic: NonNullable<NetworkState['nic']>): Promise<void> {
  const link = await rtnl.getLink(nic.name)
  if (link.master !== undefined) await rtnl.setLink(link.index, { master: null })
  if (nic.wasUp && !link.up) await rtnl.setLink(link.index, { up: true })
  const have = new Set((await rtnl.listAddresses(link.index)).map((a) => normCidr(a.cidr)))
  for (const a of nic.addresses as MovedAddress[]) {
    if (!have.has(normCidr(a.cidr))) await rtnl.addAddress(link.index, a.cidr)
  }
  for (const r of nic.routes) await rtnl.replaceRoute({ ...fromMoved(r), dev: link.index })
}
