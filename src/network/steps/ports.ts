/**
 * VM ports: taps enslaved to the bridge, or macvtaps on the parent NIC. Missing ones are created (taps
 * in one native batch, then one pipelined round of netlink requests that tags them with the network's
 * group and alias, gives the tap its host-side MAC, enslaves and raises it); existing ones must be this
 * network's and are re-enslaved if a converge moved the bridge; with `prune`, ports of this network that
 * the plan does not list are removed.
 */
import { KvmnetError, SpecError, isNotFound } from '../../errors.js'
import type { LinkInfo, Rtnl } from '../../rtnl/index.js'
import { createTaps } from '../../tap/index.js'
import type { ApplyContext } from '../driver.js'
import type { NetworkPlan, PlannedMacvtap, PlannedPort, PlannedTap } from '../plan.js'
import { assertOurs, ignoreNotFound } from './links-common.js'

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
}

/** Where ports attach: the bridge (by name) or, for macvtap networks, the parent NIC. */
export type PortAnchor = { bridge: string } | { parent: string; mode: 'bridge' | 'vepa' | 'private' | 'passthru' }

export async function ensurePorts(ctx: ApplyContext, plan: NetworkPlan, anchor: PortAnchor, ports: readonly PlannedPort[]): Promise<void> {
  const { rtnl, tx } = ctx
  // The kernel filters a dump by master, not by group: a bridge's ports are asked for by master, unless a
  // converge renamed the bridge (its ports were released from the old one and are found by group).
  const renamed = ctx.prev?.bridge !== undefined && 'bridge' in anchor && ctx.prev.bridge !== anchor.bridge
  const byMaster = 'bridge' in anchor && !renamed
  const ours = (await rtnl.listLinks(byMaster ? { master: anchor.bridge } : { group: plan.group })).filter((l) => l.alias === plan.alias.port)
  const existing = new Map(ours.map((l) => [l.name, l]))
  // A name not among the network's links may still be taken by another link: ask for all of them at
  // once (pipelined on one socket) rather than one round trip per port.
  const found = await Promise.all(ports.map((p) => existing.get(p.name) ?? rtnl.findLink(p.name)))
  const missing: PlannedPort[] = []
  const misplaced: LinkInfo[] = []
  const bridgeIndex = 'bridge' in anchor ? (await rtnl.getLink(anchor.bridge)).index : undefined
  for (const [i, p] of ports.entries()) {
    const have = found[i]
    if (!have) {
      missing.push(p)
      continue
    }
    assertOurs(have, plan.alias.port, `${p.field}.name`)
    const kind = have.kind === 'tun' ? 'tap' : have.kind
    if (kind !== p.kind) throw new SpecError(`${p.field}.name`, `${p.name} exists as ${have.kind}, not ${p.kind}`)
    if (bridgeIndex !== undefined && have.master !== bridgeIndex) misplaced.push(have)
  }

  if (missing.length > 0) {
    await tx.step(`ports(${missing.length})`, 'links', async (s) => {
      const taps = missing.filter((p): p is PlannedTap => p.kind === 'tap')
      const macvtaps = missing.filter((p): p is PlannedMacvtap => p.kind === 'macvtap')
      if (taps.length > 0 && 'bridge' in anchor) await createTapPorts(ctx, plan, anchor.bridge, taps, s.onUndo)
      if (macvtaps.length > 0 && 'parent' in anchor) await createMacvtapPorts(ctx, plan, anchor, macvtaps, s.onUndo)
      s.outcome('created')
    })
  }
  if (misplaced.length > 0 && bridgeIndex !== undefined) {
    await tx.step(`reattach-ports(${misplaced.length})`, 'links', async () => {
      await Promise.all(misplaced.map((l) => rtnl.setLink(l.index, { master: bridgeIndex, up: true })))
    })
  }

  const planned = new Set(ports.map((p) => p.name))
  const stale = ours.filter((l) => !planned.has(l.name))
  if (stale.length > 0 && ctx.prunePorts) {
    await tx.step(`remove-ports(${stale.length})`, 'links', async (s) => {
      await Promise.all(stale.map((l) => rtnl.deleteLink(l.index).catch(ignoreNotFound)))
      s.outcome('removed')
    })
  }
}

type OnUndo = (undo: () => Promise<void> | void) => void

async function createTapPorts(ctx: ApplyContext, plan: NetworkPlan, bridge: string, taps: PlannedTap[], onUndo: OnUndo): Promise<void> {
  const { rtnl } = ctx
  const handles = createTaps(
    ctx.ns,
    taps.map((p) => ({
      name: p.name,
      mode: 'tap' as const,
      queues: p.queues,
      vnetHdr: p.vnetHdr,
      persist: p.persistent,
      ...(p.owner !== undefined ? { owner: p.owner } : {}),
      ...(p.group !== undefined ? { group: p.group } : {}),
    })),
  )
  onUndo(async () => {
    for (const h of handles) if (!h.persistent) h.close()
    await Promise.all(handles.filter((h) => h.persistent).map((h) => rtnl.deleteLink(h.name).catch(ignoreNotFound)))
  })
  taps.forEach((p, i) => {
    const h = handles[i]
    if (!h) return
    if (!h.persistent) ctx.newFds.set(p.name, [...h.fds])
    else h.close()
  })
  // One pipelined round: every request is in flight at once on the same socket.
  await Promise.all(
    taps.map((p) =>
      rtnl.setLink(p.name, {
        master: bridge,
        group: plan.group,
        alias: plan.alias.port,
        mac: p.hostMac,
        ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
        up: true,
      }),
    ),
  )
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

/** Teardown of every link the network created: one group delete, then a check that nothing is left. */
export async function removeNetworkLinks(rtnl: Rtnl, group: number, bridge: { name: string; alias: string } | undefined): Promise<void> {
  try {
    await rtnl.deleteGroup(group)
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  // Links created before they joined the group (a crash between create and set) are found by alias.
  const left = (await rtnl.listLinks({ group })).concat(
    bridge ? [await rtnl.findLink(bridge.name)].filter((l): l is LinkInfo => l !== undefined && l.alias === bridge.alias) : [],
  )
  for (const l of left) await rtnl.deleteLink(l.index).catch(ignoreNotFound)
  if (left.length > 0 && (await rtnl.listLinks({ group })).length > 0) throw new KvmnetError(`links of group ${group} remain after teardown`)
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
  }
}

