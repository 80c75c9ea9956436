/**
 * VM ports: taps enslaved to the bridge, or macvtaps on the parent NIC. Missing ones are created (taps
 * in one native batch, then one pipelined round of netlink requests that tags them with the network's
 * group and alias, gives the tap its host-side MAC, enslaves and raises it); existing ones must be this
 * network's and are re-enslaved if a converge moved the bridge; with `prune`, ports of this network that
 * the plan does not list are removed.
 */
import { KvmnetError, SpecError, isNotFound, ignoreNotFound } from '../../errors.js'
import { noLinkLocal, type LinkInfo, type Rtnl } from '../../rtnl/index.js'
import { closeTaps, createTaps } from '../../tap/index.js'
import { native } from '../../native/index.js'
import type { ApplyContext } from '../driver.js'
import { type NetworkPlan, type PlannedMacvtap, type PlannedPort, type PlannedTap, type PortAnchor } from '../plan.js'
import { linkNamesOf } from '../kinds/plan-parts.js'
import { assertOurs, isHalfMade, isLinkLocal6 } from './links-common.js'
import { isAttachmentOf } from '../names.js'
import type { PortBandwidthSpec } from '../spec.js'

export interface PortInfo {
  name: string
  kind: 'tap' | 'macvtap'
  /** The guest's MAC: give it to QEMU (`-device virtio-net,mac=…`); reservations match it. */
  mac: string
  /** The host side's own MAC (a tap's; a macvtap has only the guest's). */
  hostMac: string | undefined
  index: number
  up: boolean
  /** macvtap: the character device QEMU opens (/dev/tapN). */
  tapDevice?: string | undefined
  /** Non-persistent taps: the queue fds, owned by the Network handle, to pass to the hypervisor. */
  fds?: readonly number[] | undefined
  /** The port's limits as the spec gives them (KiB/s, KiB). */
  bandwidth?: PortBandwidthSpec | undefined
}

export interface PortOptions {
  /**
   * New taps left down, for the caller to raise once their qdiscs are on (ensureBandwidth); a tap of an
   * earlier apply found down is raised here as always.
   */
  raiseLater?: ReadonlySet<string> | undefined
  /** The anchor bridge as the caller has it (not looked up again); `made`: by this apply, so without ports. */
  bridge?: { index: number; made?: boolean | undefined } | undefined
}

/** From how many names to look up one dump of the namespace's links is cheaper than a request per name. */
const LOOKUPS_BEFORE_DUMP = 32

export async function ensurePorts(ctx: ApplyContext, plan: NetworkPlan, anchor: PortAnchor, ports: readonly PlannedPort[], opts: PortOptions = {}): Promise<void> {
  const { rtnl, tx } = ctx
  // The kernel filters a dump by master, not by group: a bridge's ports are asked for by master, unless a
  // converge renamed the bridge (its ports were released from the old one and are found by group).
  const renamed = ctx.prev?.bridge !== undefined && 'bridge' in anchor && ctx.prev.bridge !== anchor.bridge
  const byMaster = 'bridge' in anchor && !renamed
  const owner = { group: plan.group, names: linkNamesOf(plan) }
  // A bridge this apply made has no ports yet: nothing to list (the names are still looked up below).
  const listed = byMaster && opts.bridge?.made ? [] : await rtnl.listLinks(byMaster ? { master: anchor.bridge } : { group: plan.group })
  const ours = listed.filter(
    // A half-made bridge or vxlan is finished by its own step, not taken for a port.
    (l) => l.alias === plan.alias.port || (isHalfMade(l, owner) && l.kind !== 'bridge' && l.kind !== 'vxlan'),
  )
  const existing = new Map(ours.map((l) => [l.name, l]))
  // A name not among the network's links may still be taken by another link. A few are asked for by name
  // (pipelined on one socket); many, with one dump of the namespace's links: a thousand lookups of names
  // that do not exist cost ~40 ms of requests and NotFound errors, the dump a few.
  const unknown = ports.filter((p) => !existing.has(p.name)).length
  // A first apply's preflight listed every name the plan gives a link, before anything was made.
  const known = ctx.linksBefore
  const all = known && ports.every((p) => known.names.has(p.name)) ? known.byName : (unknown > LOOKUPS_BEFORE_DUMP ? new Map((await rtnl.listLinks()).map((l) => [l.name, l])) : undefined)
  const found = await Promise.all(ports.map((p) => existing.get(p.name) ?? (all ? all.get(p.name) : rtnl.findLink(p.name))))
  const missing: PlannedPort[] = []
  const misplaced: LinkInfo[] = []
  const hostAddressed: LinkInfo[] = []
  const bridgeIndex = 'bridge' in anchor ? (opts.bridge?.index ?? (await rtnl.getLink(anchor.bridge)).index) : undefined
  for (const [i, p] of ports.entries()) {
    const have = found[i]
    if (!have) {
      missing.push(p)
      continue
    }
    assertOurs(have, plan.alias.port, `${p.field}.name`, owner)
    const kind = have.kind === 'tun' ? 'tap' : have.kind
    if (kind !== p.kind) throw new SpecError(`${p.field}.name`, `${p.name} exists as ${have.kind}, not ${p.kind}`)
    // Not on the bridge (a converge renamed it), never tagged (an apply cut short), or set down by hand: set all.
    if ((bridgeIndex !== undefined && have.master !== bridgeIndex) || !have.alias || !have.up) misplaced.push(have)
    if (kind === 'tap' && have.addrGenMode !== undefined && have.addrGenMode !== 'none' && noLinkLocal(have.mtu).addrGenMode) hostAddressed.push(have)
  }

  if (missing.length > 0) {
    await tx.step({ name: 'ports', detail: String(missing.length) }, 'links', async (s) => {
      const taps = missing.filter((p): p is PlannedTap => p.kind === 'tap')
      const macvtaps = missing.filter((p): p is PlannedMacvtap => p.kind === 'macvtap')
      if (taps.length > 0 && bridgeIndex !== undefined) await createTapPorts(ctx, plan, bridgeIndex, taps, s.onUndo, opts.raiseLater)
      if (macvtaps.length > 0 && 'parent' in anchor) await createMacvtapPorts(ctx, plan, anchor, macvtaps, s.onUndo)
      s.outcome('created')
    })
  }
  const untaggedMacvtaps = bridgeIndex === undefined ? misplaced : []
  if (untaggedMacvtaps.length > 0) {
    await tx.step({ name: 'tag-ports', detail: String(untaggedMacvtaps.length) }, 'links', async () => {
      await Promise.all(untaggedMacvtaps.map((l) => rtnl.setLink(l.index, { alias: plan.alias.port, up: true })))
    })
  }
  if (misplaced.length > 0 && bridgeIndex !== undefined) {
    await tx.step({ name: 'reattach-ports', detail: String(misplaced.length) }, 'links', async () => {
      await Promise.all(misplaced.map((l) => rtnl.setLink(l.index, { master: bridgeIndex, alias: plan.alias.port, up: true })))
    })
  }

  if (hostAddressed.length > 0) {
    // Taps made before ports were made with addrgenmode none (an older kvmnet, or set by hand) are given
    // it now, and the link-local addresses the kernel already put on them are removed: the mode only
    // says how the next one is made. Only IPv6 link-local addresses, which only the kernel puts on a port.
    await tx.step({ name: 'unaddress-ports', detail: String(hostAddressed.length) }, 'links', async (s) => {
      await Promise.all(hostAddressed.map((l) => rtnl.setLink(l.index, { addrGenMode: 'none' })))
      // One dump of the namespace's addresses for all of them, not one per tap.
      const indexes = new Set(hostAddressed.map((l) => l.index))
      const own = (await rtnl.listAddresses()).filter((a) => indexes.has(a.index) && isLinkLocal6(a.cidr))
      await Promise.all(own.map((a) => rtnl.deleteAddress(a.index, a.cidr).catch(ignoreNotFound)))
      s.outcome('updated')
    })
  }

  const planned = new Set(ports.map((p) => p.name))
  const stale = ours.filter((l) => !planned.has(l.name))
  if (stale.length > 0 && ctx.prunePorts) {
    await tx.step({ name: 'remove-ports', detail: String(stale.length) }, 'links', async (s) => {
      await Promise.all(stale.map((l) => rtnl.deleteLink(l.index).catch(ignoreNotFound)))
      s.outcome('removed')
    })
  }
}

type OnUndo = (undo: () => Promise<void> | void) => void


/**
 * Taps are created non-persistent and tagged (group, alias, host MAC) before they are made persistent: a
 * process killed before that leaves no tap behind (a non-persistent tap dies with its fds), and one killed
 * after leaves taps that are tagged, so `down` and `gc` find them (and the next `up` enslaves them).
 * Only then are they enslaved and raised — without the fds held open, so without carrier: a port with
 * carrier joining a bridge, and losing it again when the fds close, makes the kernel re-run the bridge's
 * port-state selection over every port each time (measured: 1000 taps ~30% faster this way).
 */
async function createTapPorts(ctx: ApplyContext, plan: NetworkPlan, bridge: number, taps: PlannedTap[], onUndo: OnUndo, raiseLater?: ReadonlySet<string>): Promise<void> {
  const { rtnl } = ctx
  const handles = createTaps(
    ctx.ns,
    taps.map((p) => ({
      name: p.name,
      mode: 'tap' as const,
      queues: p.queues,
      vnetHdr: p.vnetHdr,
      persist: false,
      ...(p.owner !== undefined ? { owner: p.owner } : {}),
      ...(p.group !== undefined ? { group: p.group } : {}),
    })),
  )
  // Fds of taps the caller keeps are the handle's from now on (it closes them if the apply fails).
  taps.forEach((p, i) => {
    const h = handles[i]
    if (h && !p.persistent) ctx.newFds.set(p.name, [...h.fds])
  })
  const persisted: string[] = []
  onUndo(async () => {
    taps.forEach((p, i) => p.persistent && handles[i]?.close())
    await Promise.all(persisted.map((name) => rtnl.deleteLink(name).catch(ignoreNotFound)))
  })
  // Pipelined rounds: every request of a round is in flight at once on the same socket.
  await rtnl.setLinks(
    taps.map((p) => ({
      ref: p.name,
      change: { group: plan.group, alias: plan.alias.port, mac: p.hostMac, ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}), ...noLinkLocal(plan.mtu) },
    })),
  )
  taps.forEach((p, i) => {
    const h = handles[i]
    if (!h || !p.persistent) return
    const first = h.fds[0]
    if (first !== undefined) native.tapSetPersist(first, true)
    persisted.push(p.name)
  })
  // Then closed, after every TUNSETPERSIST (both take the rtnl lock: interleaved, each ioctl would wait
  // behind a close), and settled before they join the bridge: without carrier, and known to the kernel to
  // be without it (see closeTaps), so the bridge neither enables them nor disables them again later.
  await closeTaps(ctx.ns, taps.flatMap((p, i) => (p.persistent && handles[i] ? [handles[i]] : [])))
  await rtnl.setLinks(taps.map((p) => ({ ref: p.name, change: { master: bridge, ...(raiseLater?.has(p.name) ? {} : { up: true }) } })))
}

async function createMacvtapPorts(
  ctx: ApplyContext,
  plan: NetworkPlan,
  anchor: { parent: string; mode: 'bridge' | 'vepa' | 'private' | 'passthru' },
  ports: PlannedMacvtap[],
  onUndo: OnUndo,
): Promise<void> {
  const { rtnl } = ctx
  const created: string[] = []
  onUndo(() => Promise.all(created.map((n) => rtnl.deleteLink(n).catch(ignoreNotFound))).then(() => undefined))
  await Promise.all(
    ports.map(async (p) => {
      await rtnl.addLink({
        kind: 'macvtap',
        name: p.name,
        parent: anchor.parent,
        mode: anchor.mode,
        mac: p.mac,
        group: plan.group,
        alias: plan.alias.port,
        ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
        up: true,
      })
      created.push(p.name)
    }),
  )
}

/**
 * Teardown of every link the network created. One RTM_DELLINK for the whole group when every member is
 * this network's; when the group also holds links kvmnet did not create for it (an administrator's veth
 * given the same group, another network configured with the same `group`), only this network's links go,
 * one by one. Links created before they joined the group are found by their alias.
 */
export async function removeNetworkLinks(rtnl: Rtnl, group: number, aliases: readonly string[], bridge: string | undefined, names: ReadonlySet<string>): Promise<void> {
  const owner = { group, names }
  // Containers' veths (kvmnet-cni) carry an attachment alias of the network: they go with it.
  const ours = (l: LinkInfo) =>
    (l.alias !== undefined && aliases.includes(l.alias)) || aliases.some((a) => isAttachmentOf(l.alias, a)) || isHalfMade(l, owner)
  const members = await rtnl.listLinks({ group })
  let groupEmptied = false
  if (members.length > 0 && members.every(ours)) {
    // Settled once the kernel has unlisted them, before the RCU wait that ends its sendmsg (off the loop).
    await rtnl.deleteGroup(group, { members: members.map((l) => l.index) }).catch(ignoreNotFound)
    // The kernel deleted every link the group held then, listed or not: nothing of it is left to look for.
    groupEmptied = true
  } else {
    // Ports first, so the bridge is not deleted under ports that are still being removed.
    const mine = members.filter(ours).sort((a, b) => Number(a.kind === 'bridge') - Number(b.kind === 'bridge'))
    for (const l of mine) await rtnl.deleteLink(l.index).catch(ignoreNotFound)
  }
  // A bridge that was among them is gone; one outside the group (made before it joined it) is asked for.
  const stray = bridge && !members.some((l) => l.name === bridge && ours(l)) ? await rtnl.findLink(bridge) : undefined
  if (stray && ours(stray)) await rtnl.deleteLink(stray.index).catch(ignoreNotFound)
  if (groupEmptied && !stray) return
  const left = (await rtnl.listLinks({ group })).filter(ours)
  if (left.length > 0) throw new KvmnetError(`links of ${aliases[0] ?? `group ${group}`} remain after teardown: ${left.map((l) => l.name).join(', ')}`)
}

/**
 * Refuse a link group that already holds links kvmnet did not create for this network. `links`: every
 * link of the namespace as just listed (the apply's checks list them once), else they are listed here.
 */
export async function assertGroupOurs(rtnl: Rtnl, group: number, aliases: readonly string[], names: ReadonlySet<string>, field: string, links?: readonly LinkInfo[]): Promise<void> {
  const owner = { group, names }
  const members = links ? links.filter((l) => l.group === group) : await rtnl.listLinks({ group })
  const foreign = members.filter(
    (l) => !(l.alias !== undefined && aliases.includes(l.alias)) && !aliases.some((a) => isAttachmentOf(l.alias, a)) && !isHalfMade(l, owner),
  )
  if (foreign.length > 0) {
    throw new SpecError(field, `link group ${group} already holds links this network did not create (${foreign.map((l) => l.name).join(', ')}); pick another group`)
  }
}

/** A port as the kernel has it, with the guest's MAC from the plan. */
export function portInfo(p: PlannedPort, link: LinkInfo, fds: readonly number[] | undefined): PortInfo {
  return {
    name: p.name,
    kind: p.kind,
    mac: p.mac,
    hostMac: p.kind === 'tap' ? link.mac : undefined,
    index: link.index,
    up: link.up,
    tapDevice: link.tapDevice,
    fds,
    bandwidth: p.kind === 'tap' ? p.bandwidth : undefined,
  }
}


/** Every port of the plan as PortInfo; many ports: one dump of the network's link group, not a request per port. */
export async function portInfos(rtnl: Rtnl, plan: NetworkPlan, fdsOf: (name: string) => readonly number[]): Promise<PortInfo[]> {
  const dumped = plan.ports.length > 8 ? new Map((await rtnl.listLinks({ group: plan.group })).map((l) => [l.name, l])) : undefined
  return Promise.all(plan.ports.map(async (p) => portInfo(p, dumped?.get(p.name) ?? (await rtnl.getLink(p.name)), fdsOf(p.name))))
}
