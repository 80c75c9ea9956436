/**
 * The checks of an apply that need the kernel, run before its first change (the journal): the links the
 * plan creates are free or already this network's (never an administrator's link, `lo`, or another
 * network's bridge or port), no other network in the namespace has a port or bridge of that name, the
 * links the plan uses exist and are what it needs (uplink; a NIC to enslave or put macvtaps on is an
 * Ethernet device), a vxlan's underlay and local address are there, and the subnet is routed nowhere
 * else, and no network of libvirt's (running, or defined and waiting for net-start) in the same namespace has
 * the bridge's name or an overlapping subnet. Each refusal is a SpecError naming the field as the user wrote it. The steps check again as
 * they go (the namespace may change in between); these make the common mistakes cost nothing.
 */
import { SpecError } from '../../errors.js'
import { describeCollision, libvirtCollisions, libvirtNetnsIds, libvirtNetworks } from '../../libvirt-host/index.js'
import { IFF_LOOPBACK, type LinkInfo, type Rtnl } from '../../rtnl/index.js'
import type { NetworkPlan } from '../plan.js'
import type { NetworkSpec } from '../spec.js'
import type { NetworkState } from '../state.js'
import { assertSubnetFree, extraSubnets } from '../steps/bridge.js'
import { assertOurs, isHalfMade } from '../steps/links-common.js'
import { resolveVxlan } from '../steps/vxlan.js'
import { bridgeOf, firewallOf, linkNamesOf, ownAliases, vxlanOf } from './plan-parts.js'
import { planFor } from './planned.js'

/** A link the plan creates: its name, the alias it carries when it is this network's, the field to name. */
interface Created {
  name: string
  alias: string
  field: string
}

function createdLinks(plan: NetworkPlan): Created[] {
  const out: Created[] = []
  const bridge = bridgeOf(plan)
  if (bridge !== undefined) out.push({ name: bridge, alias: plan.alias.bridge, field: 'bridge' })
  const vx = vxlanOf(plan)
  if (vx) out.push({ name: vx.name, alias: plan.alias.vxlan, field: 'vxlan' })
  if (plan.mode === 'macvtap' && plan.hostHelper) out.push({ name: plan.hostHelper.name, alias: plan.alias.host, field: 'hostAccess' })
  for (const p of plan.ports) out.push({ name: p.name, alias: plan.alias.port, field: `${p.field}.name` })
  return out
}

/**
 * What a guest's frames can cross: a device with a 6-byte hardware address that is not the loopback
 * device. A tun, a WireGuard or IP tunnel has none (or a shorter one), and the kernel refuses it as a
 * bridge port or a macvtap parent (EINVAL half-way through the apply).
 */
function isEthernet(link: LinkInfo): boolean {
  return (link.flags & IFF_LOOPBACK) === 0 && link.mac?.length === 17
}

/** A NIC the plan uses as it is: it must exist and carry Ethernet frames. */
function assertNic(link: LinkInfo | undefined, name: string, field: string, what: string): LinkInfo {
  if (!link) throw new SpecError(field, `no interface named ${name} in this namespace`)
  if (!isEthernet(link)) throw new SpecError(field, `${name} is not an Ethernet device (${link.kind ?? 'no link kind'}, ${link.mac ? `address ${link.mac}` : 'no hardware address'}); ${what}`)
  return link
}

function bridgeAndSubnets(plan: NetworkPlan | undefined): { bridge?: string | undefined; subnet?: string | undefined; subnet6?: string | undefined } {
  if (!plan) return {}
  return { bridge: bridgeOf(plan), ...('subnet' in plan ? { subnet: plan.subnet, subnet6: plan.subnet6 } : {}) }
}

/**
 * A libvirt network whose bridge name or subnet is this plan's, in the namespace `netnsId` names. Only
 * what the apply makes new is checked (`prev`: the plan applied before): a network already up keeps its
 * bridge and subnet, and its repairs and runtime changes must not start failing because libvirt defined
 * a network on them afterwards — doctor names that one.
 */
export async function assertNoLibvirtCollision(plan: NetworkPlan, netnsId: string, prev?: NetworkPlan): Promise<void> {
  const want = bridgeAndSubnets(plan)
  const had = bridgeAndSubnets(prev)
  const fresh = {
    bridge: want.bridge !== had.bridge ? want.bridge : undefined,
    subnet: want.subnet !== had.subnet ? want.subnet : undefined,
    subnet6: want.subnet6 !== had.subnet6 ? want.subnet6 : undefined,
  }
  if (fresh.bridge === undefined && fresh.subnet === undefined && fresh.subnet6 === undefined) return
  const networks = await libvirtNetworks()
  if (networks.length === 0 || !(await libvirtNetnsIds()).has(netnsId)) return
  const c = libvirtCollisions(fresh, networks)[0]
  if (c) throw new SpecError(c.field, `${describeCollision(c)}: stop or change one of the two networks`)
}

/**
 * The link names of other networks' plans, by their spec: each up checks its names against every other
 * network in the namespace, and planning them all afresh made a hundred ups O(n²) in allocation. The
 * spec (and state root) is the whole input of a plan. Keyed by the spec object, which other-states.ts
 * keeps (frozen) while its file is unchanged: a digest of its JSON cost every up a stringify and a hash
 * per other network; the names go with the spec when it is dropped.
 */
const otherLinkNames = new WeakMap<NetworkSpec, { stateRoot: string; names: ReadonlySet<string> }>()

function linkNamesOfOther(spec: NetworkSpec, stateRoot: string): ReadonlySet<string> {
  const had = otherLinkNames.get(spec)
  if (had?.stateRoot === stateRoot) return had.names
  const names = linkNamesOf(planFor(spec, stateRoot))
  otherLinkNames.set(spec, { stateRoot, names })
  return names
}

/**
 * Everything of the above, for `plan` about to be applied in the namespace `rtnl` speaks to (`netnsId`,
 * its identity) over `prev`, the plan applied before (a converge). `others` are the states of the other networks recorded for the same namespace.
 */
/** The links preflight listed, and the names it asked for (a name asked for and not listed is free). */
export interface Preflight {
  links: LinkInfo[]
  names: ReadonlySet<string>
}

export async function preflight(rtnl: Rtnl, plan: NetworkPlan, others: readonly Pick<NetworkState, 'name' | 'spec'>[], stateRoot: string, netnsId: string, prev?: NetworkPlan): Promise<Preflight> {
  // First: a running libvirt network's bridge is also refused below, but without naming libvirt's network.
  await assertNoLibvirtCollision(plan, netnsId, prev)
  const owner = { group: plan.group, names: linkNamesOf(plan) }
  const aliases = new Set(ownAliases(plan))
  const created = createdLinks(plan)
  const uplink = firewallOf(plan)?.nat?.uplink ?? firewallOf(plan)?.routed?.uplink
  // Only the links this check reads are decoded: by name (the links to create, uplink, NIC, parent), by
  // alias (ours) and the group's (the apply's next check). The namespace's others (a thousand ports of
  // other networks) were decoded on every up: most of what an up allocated, and live across its awaits.
  const names = new Set([...owner.names, ...created.map((c) => c.name)])
  if (uplink !== undefined) names.add(uplink)
  if (plan.mode === 'bridge') names.add(plan.nic)
  if (plan.mode === 'macvtap') names.add(plan.parent)
  const links = await rtnl.listLinks({ anyOf: { names, aliases, group: plan.group } })
  const byName = new Map(links.map((l) => [l.name, l]))
  for (const c of created) {
    const have = byName.get(c.name)
    if (have) assertOurs(have, c.alias, c.field, owner)
  }
  // A name another network gives one of its links, also one that is missing right now (its watcher or
  // next up makes it again).
  for (const other of others) {
    const theirs = linkNamesOfOther(other.spec, stateRoot)
    const clash = created.find((c) => theirs.has(c.name))
    if (clash) throw new SpecError(clash.field, `${clash.name} is a link of network ${other.name}`)
  }

  if (uplink !== undefined && !byName.has(uplink)) throw new SpecError('uplink', `no interface named ${uplink} in this namespace`)
  if (plan.mode === 'bridge') assertNic(byName.get(plan.nic), plan.nic, 'interface', 'a bridge takes Ethernet NICs only')
  if (plan.mode === 'macvtap') {
    const parent = assertNic(byName.get(plan.parent), plan.parent, 'interface', 'macvtap needs an Ethernet NIC')
    if (parent.kind === 'bridge') throw new SpecError('interface', `${parent.name} is a bridge; macvtap needs a NIC`)
  }
  if (plan.mode !== 'macvtap') await resolveVxlan(rtnl, plan)

  // The network's own links route its subnet already (a converge); anyone else's route is a conflict.
  const ours = new Set(links.filter((l) => (l.alias !== undefined && aliases.has(l.alias)) || isHalfMade(l, owner)).map((l) => l.index))
  // The extra subnets too: a first apply's bridge step trusts this check (ApplyContext.linksBefore).
  if ('subnet' in plan) await assertSubnetFree(rtnl, { v4: plan.subnet, v6: plan.subnet6, extra: 'addresses' in plan ? extraSubnets(plan) : undefined }, ours)
  if (plan.mode === 'macvtap' && plan.hostHelper) await assertSubnetFree(rtnl, { v4: plan.hostHelper.subnet }, ours)
  // The links as listed (the group's among them): the apply's next check (the link group is the network's
  // alone) needs no second dump, nor do a first apply's bridge and ports steps (ApplyContext.linksBefore).
  return { links, names }
}
