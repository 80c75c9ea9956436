/**
 * Bridge networks borrow a NIC: it is enslaved and its addresses and routes move to the bridge in one
 * step, so the host keeps its connectivity through the bridge. What was moved is recorded in the state,
 * and put back on down.
 */
import { ignoreExists, ignoreNotFound } from '../../errors.js'
import type { LinkInfo, RouteInfo, Rtnl } from '../../rtnl/index.js'
import type { NetnsRef } from '../../netns/index.js'
import type { ApplyContext } from '../driver.js'
import type { NicManager } from '../nic-manager.js'
import type { MovedAddress, MovedRoute, NetworkState } from '../state.js'
import { isLinkLocal6, normCidr } from './links-common.js'
import { giveBack, handOver, restartOnBridge } from './nic-handover.js'

const RTPROT_KERNEL = 2

/** `adopt`: the NIC's managers (found and allowed by the caller) are handed over to the bridge with it. */
export async function moveNicToBridge(ctx: ApplyContext, nic: LinkInfo, br: LinkInfo, adopt: readonly NicManager[] = []): Promise<void> {
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
      await restoreNic(rtnl, moved, ctx.ns)
      state.nic = undefined
    })
    // Before the addresses move: a DHCP client still running on the NIC would put them back there.
    if (adopt.length > 0) {
      moved.handedOver = await handOver(ctx.ns, adopt, nic.name)
      await ctx.journal()
    }
    await rtnl.setLink(nic.index, { master: br.index, up: true })
    // Addresses first (their prefix routes come with them), then the routes that leaned on them.
    await Promise.all(addrs.map((a) => rtnl.deleteAddress(nic.index, a.cidr)))
    await Promise.all(addrs.map((a) => rtnl.addAddress(br.index, a.cidr)))
    await rtnl.setLink(br.index, { up: true })
    for (const r of moved.routes) await rtnl.replaceRoute({ ...fromMoved(r), dev: br.index })
    // Then the client runs on the bridge, which has the NIC's MAC: the same lease, renewed there.
    if (moved.handedOver) {
      await restartOnBridge(ctx.ns, moved.handedOver, br.name, addressWatch(rtnl, br.index, addrs.map((a) => a.cidr)))
      await ctx.journal()
    }
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
export async function restoreNic(rtnl: Rtnl, nic: NonNullable<NetworkState['nic']>, ns: NetnsRef | undefined): Promise<void> {
  // The bridge's client goes first, so it cannot renew onto the bridge while the addresses move back.
  if (nic.handedOver) await giveBack(ns, nic.handedOver, 'stop')
  const link = await rtnl.getLink(nic.name)
  if (link.master !== undefined) await rtnl.setLink(link.index, { master: null })
  if (nic.wasUp && !link.up) await rtnl.setLink(link.index, { up: true })
  const have = new Set((await rtnl.listAddresses(link.index)).map((a) => normCidr(a.cidr)))
  for (const a of nic.addresses as MovedAddress[]) {
    if (!have.has(normCidr(a.cidr))) await rtnl.addAddress(link.index, a.cidr)
  }
  for (const r of nic.routes) await rtnl.replaceRoute({ ...fromMoved(r), dev: link.index })
  if (nic.handedOver) {
    const watch = addressWatch(rtnl, link.index, nic.addresses.map((a) => a.cidr))
    await giveBack(ns, nic.handedOver, 'restart', {
      present: watch.present,
      // Statically, as before, with the routes that leaned on them.
      restore: async () => {
        await watch.restore()
        for (const r of nic.routes) await rtnl.replaceRoute({ ...fromMoved(r), dev: link.index }).catch(ignoreNotFound)
      },
    })
  }
}

/** Whether the IPv4 addresses a DHCP client manages are on `index` (IPv6 ones are not its to clear). */
function addressWatch(rtnl: Rtnl, index: number, cidrs: readonly string[]) {
  const want = cidrs.filter((c) => c.includes('.')).map(normCidr)
  return {
    present: async () => {
      const have = new Set((await rtnl.listAddresses(index)).map((a) => normCidr(a.cidr)))
      return want.every((c) => have.has(c))
    },
    restore: async () => {
      const have = new Set((await rtnl.listAddresses(index)).map((a) => normCidr(a.cidr)))
      for (const c of want) if (!have.has(c)) await rtnl.addAddress(index, c).catch(ignoreExists)
    },
  }
}
