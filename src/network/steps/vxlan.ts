/**
 * The VXLAN device that stretches a bridged network to other hosts: resolved against its underlay (whose
 * MTU, less the encapsulation, becomes the network's), created on the bridge tagged like every other link
 * of the network (group in the creating request, alias right after), replaced when its tunnel parameters
 * changed, and its flooding entries — one all-zero-MAC FDB entry per peer — converged to the plan.
 */
import { ipaddr } from '../../util/index.js'
import { SpecError, ignoreNotFound } from '../../errors.js'
import { ALL_ZEROS_MAC, writeSysctl, type LinkChange, type LinkInfo, type Rtnl, type VxlanSpec } from '../../rtnl/index.js'
import type { Netns } from '../../netns/index.js'
import type { ApplyContext } from '../driver.js'
import { type BridgePart, type NetworkPlan } from '../plan.js'
import { bridgedOf, linkNamesOf, vxlanOf, withMtu } from '../kinds/plan-parts.js'
import { vxlanSpecOf } from '../kinds/spec-parts.js'
import { bridgeMac, machineId } from '../names.js'
import { canonicalIp, planVxlan, vxlanName, type PlannedVxlan } from '../vxlan.js'
import { assertOurs, isHalfMade } from './links-common.js'

type BridgedPlan = Extract<NetworkPlan, BridgePart>

/** Without an underlay device, address or route to go by: Ethernet's. */
const DEFAULT_UNDERLAY_MTU = 1500

export interface Underlay {
  /** The device the tunnel's packets leave by, when it could be told. */
  link: LinkInfo | undefined
  mtu: number
}

/** The longest-prefix route of the main table toward `ip` (what the kernel would pick without policy rules). */
async function routeDevice(rtnl: Rtnl, ip: string, family: 4 | 6): Promise<number | undefined> {
  const addr = ipaddr.parse(ip)
  let best: { len: number; metric: number; dev: number } | undefined
  for (const r of await rtnl.listRoutes({ family, devNames: false })) {
    if (r.dev === undefined || r.type !== 'unicast') continue
    let len = 0
    if (r.dst !== 'default') {
      const [net, plen] = ipaddr.parseCIDR(r.dst)
      if (net.kind() !== addr.kind() || !addr.match(net, plen)) continue
      len = plen
    }
    const metric = r.metric ?? 0
    if (!best || len > best.len || (len === best.len && metric < best.metric)) best = { len, metric, dev: r.dev }
  }
  return best?.dev
}

/**
 * The underlay: the device the spec names; else the one holding `local`; else the device of the route
 * toward the first peer or the group (the default route's when nothing more specific matches). Bad input
 * (a missing device, a `local` this host does not have) is a SpecError before anything is touched.
 */
export async function resolveUnderlay(rtnl: Rtnl, v: PlannedVxlan): Promise<Underlay> {
  if (v.underlay !== undefined) {
    const link = await rtnl.findLink(v.underlay)
    if (!link) throw new SpecError('vxlan.underlay', `no interface named ${v.underlay} in this namespace`)
    return { link, mtu: link.mtu }
  }
  if (v.local !== undefined) {
    const local = v.local
    const addr = (await rtnl.listAddresses()).find((a) => canonicalIp(a.address) === local)
    if (!addr) throw new SpecError('vxlan.local', `${local} is not an address of this host (in this namespace): peers could not answer it`)
    const link = await rtnl.findLink(addr.index)
    return { link, mtu: link?.mtu ?? DEFAULT_UNDERLAY_MTU }
  }
  const toward = v.peers[0] ?? v.group
  const dev = toward !== undefined ? await routeDevice(rtnl, toward, v.family) : undefined
  const link = dev !== undefined ? await rtnl.findLink(dev) : undefined
  return { link, mtu: link?.mtu ?? DEFAULT_UNDERLAY_MTU }
}

/**
 * The plan as the kernel makes it. With a vxlan and no `mtu` in the spec, the bridge, its ports and what
 * DHCP and router advertisements tell guests get the underlay's MTU less the encapsulation, so a full-size
 * guest frame still fits in one underlay packet. And the bridge's MAC mixes in this host's underlay (its
 * device's MAC, else `local`): every host's bridge of a segment is on one L2, and hosts cloned from one
 * image share /etc/machine-id — two bridges with one MAC would each take the other's frames (a guest's
 * packets to the gateway would end on its own host's bridge).
 */
export async function resolveVxlan<P extends BridgedPlan>(rtnl: Rtnl, plan: P): Promise<{ plan: P; underlay: Underlay | undefined }> {
  const v = plan.vxlan
  if (!v) return { plan, underlay: undefined }
  const underlay = await resolveUnderlay(rtnl, v)
  const here = underlay.link?.mac ?? v.local ?? ''
  const own = plan.bridgeMac !== undefined ? { ...plan, bridgeMac: bridgeMac(plan.name, `${machineId()}/${here}`) } : plan
  if (plan.mtu !== undefined) return { plan: own, underlay }
  const mtu = underlay.mtu - v.overhead
  if (mtu < 68) throw new SpecError('vxlan.underlay', `${underlay.link?.name ?? 'the underlay'} has MTU ${underlay.mtu}: too small to carry VXLAN (${v.overhead} bytes of headers)`)
  return { plan: withMtu(own, mtu), underlay }
}

/** Any plan with its MTU resolved where a vxlan decides it (a port added at runtime gets the bridge's). */
export async function withResolvedMtu(rtnl: Rtnl, plan: NetworkPlan): Promise<NetworkPlan> {
  const bridged = bridgedOf(plan)
  if (!bridged?.vxlan || bridged.mtuFromNic) return plan
  return (await resolveVxlan(rtnl, bridged)).plan
}

/** The link request for a planned vxlan. */
function linkSpec(plan: BridgedPlan, v: PlannedVxlan, mtu: number | undefined): VxlanSpec {
  return {
    kind: 'vxlan',
    name: v.name,
    vni: v.vni,
    port: v.port,
    learning: true,
    ...(v.local !== undefined ? { local: v.local } : {}),
    // The kernel takes the device's address family from its local or remote address; with neither, an
    // unspecified IPv6 remote (no default destination) makes it an IPv6 device that takes IPv6 peers.
    ...(v.group !== undefined ? { multicastGroup: v.group } : v.family === 6 && v.local === undefined ? { remote: '::' } : {}),
    ...(v.underlay !== undefined ? { parent: v.underlay } : {}),
    group: plan.group,
    alias: plan.alias.vxlan,
    ...(mtu !== undefined ? { mtu } : {}),
    // Raised once IPv6 is off on it, so the host never sends a router solicitation or MLD report over it.
    up: false,
  }
}

/** The tunnel parameters of a link against the plan: a difference needs a new device. */
function sameTunnel(link: LinkInfo, v: PlannedVxlan, underlayIndex: number | undefined, prevFamily: 4 | 6 | undefined): boolean {
  const d = link.vxlan
  if (!d) return false
  return (
    d.vni === v.vni &&
    (d.port ?? 0) === v.port &&
    d.local === v.local &&
    d.multicastGroup === v.group &&
    d.remote === undefined &&
    d.parent === (v.underlay !== undefined ? underlayIndex : undefined) &&
    // Without local or group the family shows nowhere in the link: it is the one last planned.
    (prevFamily === undefined || prevFamily === v.family)
  )
}

/** IPv6 off on the vxlan: the host has no address on the segment (and an IPv6-less kernel has no key). */
async function noIpv6On(ns: Netns, name: string): Promise<void> {
  await writeSysctl(ns, `net/ipv6/conf/${name}/disable_ipv6`, '1').catch(ignoreNotFound)
}

/** The all-zero-MAC destinations of a vxlan (its peers, and the group when it has one). */
export async function floodDestinations(rtnl: Rtnl, index: number): Promise<string[]> {
  const entries = await rtnl.listFdb({ dev: index })
  return entries.filter((e) => e.self && e.mac === ALL_ZEROS_MAC && e.dst !== undefined).map((e) => canonicalIp(e.dst ?? ''))
}

/** Make the kernel's vxlan match the plan (or remove the one a converge dropped). */
export async function ensureVxlan(ctx: ApplyContext, plan: BridgedPlan, underlay: Underlay | undefined): Promise<void> {
  const v = plan.vxlan
  if (!v) return removeVxlan(ctx, plan)
  const { rtnl, tx } = ctx
  const bridge = await rtnl.getLink(plan.bridge)
  const prevSpec = ctx.prev?.spec
  const prevFamily = prevSpec ? planVxlan(prevSpec.name, vxlanSpecOf(prevSpec))?.family : undefined
  // The bridge of a kind that takes the NIC's MTU keeps it; the vxlan always fits its underlay.
  const mtu = plan.mtuFromNic ? (plan.mtu ?? (underlay ? underlay.mtu - v.overhead : undefined)) : plan.mtu
  const owner = { group: plan.group, names: linkNamesOf(plan) }
  let link = await rtnl.findLink(v.name)
  if (link) {
    if (link.kind !== 'vxlan') throw new SpecError('vxlan', `${v.name} exists and is a ${link.kind ?? 'device without a kind'}, not a vxlan`)
    assertOurs(link, plan.alias.vxlan, 'vxlan', owner)
    if (!sameTunnel(link, v, underlay?.link?.index, prevFamily)) link = await replaceVxlan(ctx, plan, link, prevFamily)
  }
  if (!plan.mtuFromNic && plan.mtu !== undefined && bridge.mtu !== plan.mtu) {
    const before = bridge.mtu
    const mtuNow = plan.mtu
    await tx.step('bridge-mtu', 'links', async (s) => {
      await rtnl.setLink(bridge.index, { mtu: mtuNow })
      s.onUndo(() => rtnl.setLink(bridge.index, { mtu: before }).catch(ignoreNotFound))
      s.outcome('updated')
    })
  }
  if (!link) {
    link = await tx.step('vxlan', 'links', async (s) => {
      const made = await rtnl.addLink({ ...linkSpec(plan, v, mtu), master: bridge.index })
      s.onUndo(() => rtnl.deleteLink(made.index).catch(ignoreNotFound))
      await noIpv6On(ctx.ns, v.name)
      await rtnl.setLink(made.index, { up: true })
      s.outcome('created')
      return { ...made, up: true }
    })
  } else {
    const have = link
    const change: LinkChange = {}
    if (have.master !== bridge.index) change.master = bridge.index
    if (mtu !== undefined && have.mtu !== mtu) change.mtu = mtu
    if (!have.up) change.up = true
    // Half-made (a process killed between create and alias): finish tagging it.
    if (isHalfMade(have, owner)) change.alias = plan.alias.vxlan
    if (Object.keys(change).length > 0) {
      await tx.step('vxlan-attach', 'links', async (s) => {
        if (change.alias !== undefined) await noIpv6On(ctx.ns, v.name)
        await rtnl.setLink(have.index, change)
        s.onUndo(() =>
          rtnl
            .setLink(have.index, {
              ...(change.master !== undefined ? { master: have.master ?? null } : {}),
              ...(change.mtu !== undefined ? { mtu: have.mtu } : {}),
              ...(change.up !== undefined ? { up: have.up } : {}),
            })
            .catch(ignoreNotFound),
        )
        s.outcome(change.alias !== undefined ? 'repaired' : 'updated')
      })
    }
  }
  await ensurePeers(ctx, v, link.index)
}

/**
 * Flooding entries to match the plan's peers, when the spec lists them: missing ones appended, others
 * removed (the device is the network's, and so is its table). The group's own entry (the device's default destination) stays. With a
 * peer go the MACs learned behind it, so unicast to its guests stops at once instead of when they age out
 * (300 s) — until that host sends here again, which a host that still lists this one as its peer may do.
 */
async function ensurePeers(ctx: ApplyContext, v: PlannedVxlan, index: number): Promise<void> {
  if (!v.managePeers) return
  const { rtnl } = ctx
  const entries = (await rtnl.listFdb({ dev: index })).filter((e) => e.self && e.dst !== undefined)
  const have = entries.filter((e) => e.mac === ALL_ZEROS_MAC).map((e) => canonicalIp(e.dst ?? ''))
  const want = new Set(v.peers)
  const add = v.peers.filter((p) => !have.includes(p))
  const remove = have.filter((p) => !want.has(p) && p !== v.group)
  if (add.length === 0 && remove.length === 0) return
  const learned = entries.filter((e) => e.mac !== ALL_ZEROS_MAC && !e.permanent && remove.includes(canonicalIp(e.dst ?? '')))
  await ctx.tx.step({ name: 'vxlan-peers', detail: `+${add.length} -${remove.length}` }, 'links', async (s) => {
    const added: string[] = []
    const removed: string[] = []
    s.onUndo(async () => {
      await Promise.all(added.map((dst) => rtnl.deleteFdb({ dev: index, dst }).catch(ignoreNotFound)))
      await Promise.all(removed.map((dst) => rtnl.addFdb({ dev: index, dst }).catch(ignoreNotFound)))
    })
    // Pipelined: every request in flight at once on the one socket.
    await Promise.all([
      ...add.map(async (dst) => {
        await rtnl.addFdb({ dev: index, dst })
        added.push(dst)
      }),
      ...remove.map(async (dst) => {
        await rtnl.deleteFdb({ dev: index, dst }).catch(ignoreNotFound)
        removed.push(dst)
      }),
      ...learned.map((e) => rtnl.deleteFdb({ dev: index, mac: e.mac, dst: e.dst ?? '' }).catch(ignoreNotFound)),
    ])
    s.outcome('updated')
  })
}

/**
 * A vxlan whose VNI, port, addresses or underlay changed: the kernel cannot change all of these on a live
 * device, so it is deleted here and created anew by the caller. Undo puts the old one back, peers included.
 */
async function replaceVxlan(ctx: ApplyContext, plan: BridgedPlan, old: LinkInfo, prevFamily: 4 | 6 | undefined): Promise<undefined> {
  const { rtnl } = ctx
  await ctx.tx.step('vxlan-replace', 'links', async (s) => {
    const peers = await floodDestinations(rtnl, old.index)
    const d = old.vxlan
    await rtnl.deleteLink(old.index).catch(ignoreNotFound)
    s.onUndo(async () => {
      if (!d) return
      const back = await rtnl.addLink({
        kind: 'vxlan',
        name: old.name,
        vni: d.vni,
        ...(d.port !== undefined ? { port: d.port } : {}),
        learning: d.learning ?? true,
        ...(d.local !== undefined ? { local: d.local } : {}),
        ...(d.multicastGroup !== undefined ? { multicastGroup: d.multicastGroup } : prevFamily === 6 && d.local === undefined ? { remote: '::' } : {}),
        ...(d.parent !== undefined ? { parent: d.parent } : {}),
        ...(old.master !== undefined ? { master: old.master } : {}),
        group: plan.group,
        alias: plan.alias.vxlan,
        mtu: old.mtu,
        up: false,
      })
      await noIpv6On(ctx.ns, old.name)
      await rtnl.setLink(back.index, { up: old.up })
      await Promise.all(peers.filter((p) => p !== d.multicastGroup).map((dst) => rtnl.addFdb({ dev: back.index, dst })))
    })
    s.outcome('removed')
  })
  return undefined
}

/** A converge that dropped `vxlan`: the network's vxlan device goes (a foreign one of that name stays). */
async function removeVxlan(ctx: ApplyContext, plan: BridgedPlan): Promise<void> {
  const prevSpec = ctx.prev?.spec
  if (!prevSpec || !vxlanSpecOf(prevSpec)) return
  const name = vxlanName(plan.name)
  const link = await ctx.rtnl.findLink(name)
  if (!link || !(link.alias === plan.alias.vxlan || isHalfMade(link, { group: plan.group, names: new Set([name]) }))) return
  await ctx.tx.step('vxlan-remove', 'links', async (s) => {
    await ctx.rtnl.deleteLink(link.index).catch(ignoreNotFound)
    s.outcome('removed')
  })
  await restorePlainMtu(ctx, plan)
}

/** What the kernel gives a new bridge or tap: the MTU of a network that no vxlan reduced. */
const PLAIN_MTU = 1500

/**
 * The MTU the vxlan decided (no `mtu` in the spec) goes with it: the bridge and the network's ports that
 * still have the reduced MTU get the plain one back, as a network made without a vxlan has. A bridge
 * network's bridge keeps its NIC's MTU, and an `mtu` in the spec was applied by the bridge step.
 */
async function restorePlainMtu(ctx: ApplyContext, plan: BridgedPlan): Promise<void> {
  if (plan.mtuFromNic || plan.mtu !== undefined) return
  const { rtnl } = ctx
  const bridge = await rtnl.findLink(plan.bridge)
  if (!bridge || bridge.mtu === PLAIN_MTU) return
  const reduced = bridge.mtu
  const ports = (await Promise.all(plan.ports.map((p) => rtnl.findLink(p.name)))).filter((l): l is LinkInfo => l !== undefined && l.mtu === reduced && l.alias === plan.alias.port)
  await ctx.tx.step('bridge-mtu', 'links', async (s) => {
    const changed: LinkInfo[] = []
    s.onUndo(() => Promise.all(changed.map((l) => rtnl.setLink(l.index, { mtu: reduced }).catch(ignoreNotFound))).then(() => undefined))
    for (const l of [...ports, bridge]) {
      await rtnl.setLink(l.index, { mtu: PLAIN_MTU })
      changed.push(l)
    }
    s.outcome('updated')
  })
}

export interface VxlanStatus {
  name: string
  index: number
  up: boolean
  mtu: number
  vni: number
  port: number | undefined
  local: string | undefined
  group: string | undefined
  /** The underlay device the vxlan is bound to (IFLA_VXLAN_LINK), if any. */
  underlay: string | undefined
  /** The bridge it is enslaved to. */
  bridge: string | undefined
  /** Flooding destinations as the kernel has them (the peers). */
  peers: string[]
}

/** The vxlan as the kernel has it, and what differs from the plan. */
export async function vxlanStatus(rtnl: Rtnl, plan: NetworkPlan, bridge: LinkInfo | undefined): Promise<{ status: VxlanStatus | undefined; problems: string[] }> {
  const v = vxlanOf(plan)
  if (!v) return { status: undefined, problems: [] }
  const link = await rtnl.findLink(v.name)
  if (!link || link.kind !== 'vxlan' || link.alias !== plan.alias.vxlan) return { status: undefined, problems: [`vxlan ${v.name} missing`] }
  const problems: string[] = []
  if (!link.up) problems.push(`vxlan ${v.name} down`)
  if (bridge && link.master !== bridge.index) problems.push(`vxlan ${v.name} is not on bridge ${bridge.name}`)
  const [dsts, parent] = await Promise.all([floodDestinations(rtnl, link.index), link.vxlan?.parent !== undefined ? rtnl.findLink(link.vxlan.parent) : undefined])
  const peers = dsts.filter((d) => d !== v.group)
  for (const p of v.peers) if (!peers.includes(p)) problems.push(`vxlan peer ${p} missing`)
  if (v.managePeers) for (const p of peers) if (!v.peers.includes(p)) problems.push(`vxlan peer ${p} is not in the spec`)
  return {
    status: {
      name: link.name,
      index: link.index,
      up: link.up,
      mtu: link.mtu,
      vni: link.vxlan?.vni ?? 0,
      port: link.vxlan?.port,
      local: link.vxlan?.local,
      group: link.vxlan?.multicastGroup,
      underlay: parent?.name,
      bridge: bridge && link.master === bridge.index ? bridge.name : undefined,
      peers,
    },
    problems,
  }
}
