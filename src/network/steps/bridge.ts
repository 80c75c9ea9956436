/**
 * The bridge every bridged kind starts from: created (tagged with the network's group and alias in the
 * same request, with a fixed MAC so it does not follow its ports), or found and checked to be this
 * network's; then its host addresses, and up.
 */
import { ipaddr, ipv4Prefix, ipv4PrefixesOverlap } from '../../util/index.js'
import { SpecError, ignoreNotFound } from '../../errors.js'
import { readSysctl, writeSysctl, type LinkInfo, type Rtnl } from '../../rtnl/index.js'
import type { ApplyContext } from '../driver.js'
import type { StepName } from '../../util/index.js'
import { networkOf, type BridgePart, type NetworkPlan } from '../plan.js'
import { linkNamesOf } from '../kinds/plan-parts.js'
import { assertOurs, isHalfMade, isLinkLocal6, normCidr } from './links-common.js'

type BridgedPlan = Extract<NetworkPlan, BridgePart>

/** Refuse a subnet that the namespace already routes through another device (it would break both). */
export async function assertSubnetFree(rtnl: Rtnl, subnets: { v4?: string | undefined; v6?: string | undefined; extra?: readonly string[] | undefined }, ourDevs: Set<number>): Promise<void> {
  const wanted = [
    ['ipv4.address', subnets.v4],
    ['ipv6.address', subnets.v6],
    // The further subnets (ipv4.extra, ipv6.extra) must be free as well.
    ...(subnets.extra ?? []).map((s) => [s.includes(':') ? 'ipv6.extra' : 'ipv4.extra', s]),
  ].filter((x): x is [string, string] => x[1] !== undefined)
  if (wanted.length === 0) return
  // No device names: they would take a dump of every link (a thousand ports'), for an error message. One
  // family's routes when only one is wanted (the kernel filters: an IPv4 network skips every link's fe80::).
  const families = new Set(wanted.map(([, sub]) => (sub.includes(':') ? 6 : 4) as 4 | 6))
  const family = families.size === 1 ? [...families][0] : undefined
  // Only the routes that overlap a wanted subnet are decoded: the others (every other network's) cannot refuse it.
  const routes = await rtnl.listRoutes({ table: 254, devNames: false, overlapping: wanted.map(([, sub]) => sub), ...(family ? { family } : {}) })
  for (const [field, sub] of wanted) {
    const v4 = ipv4Prefix(sub)
    const [net, len] = v4 ? [undefined, 0] : ipaddr.parseCIDR(sub)
    for (const r of routes) {
      if (r.dst === 'default' || r.dev === undefined || ourDevs.has(r.dev)) continue
      if (!(v4 ? overlapsV4(v4, r.dst) : net !== undefined && overlaps(net, len, r.dst))) continue
      const dev = (await rtnl.findLink(r.dev))?.name
      throw new SpecError(field, `${sub} overlaps ${r.dst}, already routed via ${dev ?? `ifindex ${r.dev}`}`)
    }
  }
}

/** An IPv4 subnet against a route's destination, as two numbers (no ipaddr objects per route). */
function overlapsV4(sub: { addr: number; len: number }, dst: string): boolean {
  const other = ipv4Prefix(dst)
  return other !== undefined && ipv4PrefixesOverlap(sub, other)
}

/** Overlap: either prefix contains the other's network address (the IPv6 path, through ipaddr). */
function overlaps(net: ipaddr.IPv4 | ipaddr.IPv6, len: number, dst: string): boolean {
  let other: [ipaddr.IPv4 | ipaddr.IPv6, number]
  try {
    other = ipaddr.parseCIDR(dst)
  } catch {
    return false
  }
  if (other[0].kind() !== net.kind()) return false
  return net.match(other) || other[0].match([net, len] as [typeof net, number])
}

/**
 * A bridge renamed by a converge: the old one is this network's and would stay up with nothing planned
 * on it. Its ports are re-enslaved to the new bridge by the port step.
 */
async function removeRenamedBridge(ctx: ApplyContext, plan: BridgedPlan): Promise<void> {
  const old = ctx.prev?.bridge
  if (!old || old === plan.bridge) return
  const link = await ctx.rtnl.findLink(old)
  if (!link || link.alias !== plan.alias.bridge) return
  await ctx.tx.step('remove-old-bridge', 'links', async (s) => {
    await ctx.rtnl.deleteLink(link.index).catch(ignoreNotFound)
    s.outcome('removed')
  })
}

/** Find or create the plan's bridge. `like` is the NIC a bridge network takes its MTU and MAC from. */
/** The subnets of a bridge's addresses beyond its primary ones (ipv4.extra, ipv6.extra). */
export function extraSubnets(plan: Pick<BridgedPlan, 'subnet' | 'subnet6' | 'addresses'>): string[] {
  const primaries = [plan.subnet, plan.subnet6]
  return plan.addresses.filter((a) => !primaries.includes(networkOf(a)))
}

/** The bridge as it is now; `made` when this call created it. */
export async function ensureBridge(ctx: ApplyContext, plan: BridgedPlan, like?: LinkInfo): Promise<LinkInfo & { made?: boolean }> {
  const { rtnl, tx } = ctx
  // A first apply's preflight listed the name and checked the subnets (extra ones too) a moment ago.
  const known = ctx.linksBefore?.names.has(plan.bridge) ? ctx.linksBefore : undefined
  let bridge = known ? known.byName.get(plan.bridge) : await rtnl.findLink(plan.bridge)
  if (bridge) {
    if (bridge.kind !== 'bridge') throw new SpecError('bridge', `${plan.bridge} exists and is a ${bridge.kind ?? 'device'}, not a bridge`)
    const owner = { group: plan.group, names: linkNamesOf(plan) }
    assertOurs(bridge, plan.alias.bridge, 'bridge', owner)
    if (isHalfMade(bridge, owner)) {
      // Ours, from an apply cut short before its alias: finish tagging it.
      const link = bridge
      await ctx.tx.step('bridge-alias', 'links', () => rtnl.setLink(link.index, { alias: plan.alias.bridge }))
    }
  }
  // The old bridge of a rename routes the subnet too, and is this network's.
  const old = ctx.prev?.bridge && ctx.prev.bridge !== plan.bridge ? await rtnl.findLink(ctx.prev.bridge) : undefined
  const ours = [bridge, old?.alias === plan.alias.bridge ? old : undefined].filter((l): l is LinkInfo => l !== undefined)
  if (!known) await assertSubnetFree(rtnl, { v4: plan.subnet, v6: plan.subnet6, extra: extraSubnets(plan) }, new Set(ours.map((l) => l.index)))
  await removeRenamedBridge(ctx, plan)
  const made = !bridge
  if (!bridge) {
    bridge = await tx.step('bridge', 'links', async (s) => {
      const mtu = plan.mtu ?? like?.mtu
      const mac = like?.mac ?? plan.bridgeMac
      const link = await rtnl.addLink({
        kind: 'bridge',
        name: plan.bridge,
        stp: false,
        forwardDelay: 0,
        group: plan.group,
        alias: plan.alias.bridge,
        ...(mtu !== undefined ? { mtu } : {}),
        ...(mac ? { mac } : {}),
      })
      s.onUndo(() => rtnl.deleteLink(link.index))
      s.outcome('created')
      return link
    })
  }
  if (plan.mtu !== undefined && bridge.mtu !== plan.mtu) bridge = await restoreBridgeMtu(ctx, bridge, plan.mtu)
  await ensureIpv6Presence(ctx, plan)
  return made ? { ...bridge, made } : bridge
}

/**
 * The spec's MTU on a bridge that has another one (set by hand, or by a port with a smaller MTU joining
 * it): DHCP keeps handing out the spec's MTU (option 26), so guests would send frames the bridge drops.
 */
async function restoreBridgeMtu(ctx: ApplyContext, bridge: LinkInfo, mtu: number): Promise<LinkInfo> {
  const was = bridge.mtu
  await ctx.tx.step('bridge-mtu', 'links', async (s) => {
    await ctx.rtnl.setLink(bridge.index, { mtu })
    s.onUndo(() => ctx.rtnl.setLink(bridge.index, { mtu: was }).catch(ignoreNotFound))
    s.outcome('updated')
  })
  return { ...bridge, mtu }
}

/**
 * No host address means no host at all on this L2: IPv6 is disabled on the bridge, or the kernel would
 * give it a link-local address and the host could still talk to guests (also after a converge from a
 * kind that had one). A kind with host addresses gets IPv6 back.
 */
async function ensureIpv6Presence(ctx: ApplyContext, plan: BridgedPlan): Promise<void> {
  const key = `net/ipv6/conf/${plan.bridge}/disable_ipv6`
  const want = plan.noHostAddress ? '1' : '0'
  // A kernel without IPv6 has no such key: nothing to turn on or off.
  const have = (await readSysctl(ctx.ns, key).catch((err: unknown) => (ignoreNotFound(err), want))).trim()
  if (have === want) return
  await ctx.tx.step(plan.noHostAddress ? 'bridge-no-ipv6' : 'bridge-ipv6', 'sysctls', async (s) => {
    await writeSysctl(ctx.ns, key, want)
    s.onUndo(() => writeSysctl(ctx.ns, key, have).catch(ignoreNotFound))
  })
}

/** The host addresses of a link: add the planned ones and (with prune) remove others, link-local kept. */
export async function ensureAddresses(ctx: ApplyContext, link: LinkInfo, addresses: readonly string[], opts: { prune: boolean }): Promise<void> {
  const { rtnl } = ctx
  await ctx.tx.step('addresses', 'addresses', async (s) => {
    const have = await rtnl.listAddresses(link.index)
    const want = new Set(addresses.map(normCidr))
    let changed = false
    for (const cidr of addresses) {
      if (have.some((a) => normCidr(a.cidr) === normCidr(cidr))) continue
      // IPv6 without duplicate address detection: the network owns its prefix, and dnsmasq must be able
      // to bind the address at once (a tentative address cannot be bound).
      await rtnl.addAddress(link.index, cidr, cidr.includes(':') ? { noDad: true } : {})
      s.onUndo(() => rtnl.deleteAddress(link.index, cidr).catch(ignoreNotFound))
      changed = true
    }
    if (opts.prune) {
      for (const a of have) {
        if (isLinkLocal6(a.cidr) || want.has(normCidr(a.cidr))) continue
        await rtnl.deleteAddress(link.index, a.cidr)
        s.onUndo(() => rtnl.addAddress(link.index, a.cidr))
        changed = true
      }
    }
    s.outcome(changed ? 'updated' : 'unchanged')
  })
}

export async function ensureUp(ctx: ApplyContext, link: LinkInfo, step: StepName): Promise<void> {
  if (link.up) return
  await ctx.tx.step(step, 'links', async (s) => {
    await ctx.rtnl.setLink(link.index, { up: true })
    s.onUndo(() => ctx.rtnl.setLink(link.index, { up: false }).catch(ignoreNotFound))
  })
}
