/**
 * The link half of an apply: the bridge (or, for macvtap networks, the host helper), host addresses, a
 * NIC taken over by a bridge network, and VM ports. Every link created joins the network's link group so
 * teardown is one kernel request, and carries an alias naming the network so `gc` can find it.
 */
import ipaddr from 'ipaddr.js'
import { KvmnetError, SpecError, isNotFound } from '../errors.js'
import type { Netns } from '../netns/index.js'
import type { LinkInfo, Rtnl, RouteInfo } from '../rtnl/index.js'
import { writeSysctl } from '../rtnl/index.js'
import { createTaps } from '../tap/index.js'
import { parseAlias } from './names.js'
import type { NetworkPlan, PlannedPort } from './plan.js'
import type { NetworkSpec } from './spec.js'
import type { MovedAddress, MovedRoute, NetworkState } from './state.js'
import type { Transaction } from './transaction.js'

export interface PortInfo {
  name: string
  kind: 'tap' | 'macvtap'
  mac: string
  index: number
  up: boolean
  /** macvtap: the character device QEMU opens (/dev/tapN). */
  tapDevice?: string | undefined
  /** Non-persistent taps: the queue fds, owned by the Network handle, to pass to the hypervisor. */
  fds?: readonly number[] | undefined
}

const RTPROT_KERNEL = 2

function isLinkLocal6(cidr: string): boolean {
  return cidr.toLowerCase().startsWith('fe80:')
}

/** A link that exists must be this network's (same alias) — never adopt an admin's or another network's. */
function assertOurs(link: LinkInfo, alias: string, field: string): void {
  if (link.alias !== alias) {
    const owner = parseAlias(link.alias)
    throw new SpecError(field, `${link.name} already exists${owner ? ` and belongs to network ${owner.network}` : ' and is not managed by kvmnet'}`)
  }
}

/** Refuse a subnet that the namespace already routes through another device (it would break both). */
async function assertSubnetFree(rtnl: Rtnl, plan: NetworkPlan, ourDevs: Set<number>): Promise<void> {
  const subnets = [plan.subnet, plan.subnet6].filter((s): s is string => s !== undefined)
  if (subnets.length === 0) return
  const routes = await rtnl.listRoutes({ table: 254 })
  for (const sub of subnets) {
    const [net, len] = ipaddr.parseCIDR(sub)
    for (const r of routes) {
      if (r.dst === 'default' || r.dev === undefined || ourDevs.has(r.dev)) continue
      let other: [ipaddr.IPv4 | ipaddr.IPv6, number]
      try {
        other = ipaddr.parseCIDR(r.dst)
      } catch {
        continue
      }
      if (other[0].kind() !== net.kind()) continue
      // Overlap: either prefix contains the other's network address.
      if (net.match(other) || other[0].match([net, len] as [typeof net, number])) {
        throw new SpecError(net.kind() === 'ipv4' ? 'ipv4.address' : 'ipv6.address', `${sub} overlaps ${r.dst}, already routed via ${r.devName ?? `ifindex ${r.dev}`}`)
      }
    }
  }
}

export async function applyLinks(rtnl: Rtnl, ns: Netns, tx: Transaction, plan: NetworkPlan, state: NetworkState, spec: NetworkSpec): Promise<void> {
  if (plan.mode === 'macvtap') return applyMacvtapHost(rtnl, tx, plan, spec)

  const bridgeName = plan.bridge!
  let bridge = await rtnl.findLink(bridgeName)
  if (bridge) {
    if (bridge.kind !== 'bridge') throw new SpecError('bridge', `${bridgeName} exists and is a ${bridge.kind ?? 'device'}, not a bridge`)
    assertOurs(bridge, plan.alias.bridge, 'bridge')
  }
  await assertSubnetFree(rtnl, plan, new Set(bridge ? [bridge.index] : []))

  let nic: LinkInfo | undefined
  if (plan.mode === 'bridge') {
    nic = await rtnl.findLink(spec.interface!)
    if (!nic) throw new SpecError('interface', `no interface named ${spec.interface} in this namespace`)
    if (nic.master !== undefined && nic.master !== bridge?.index)
      throw new SpecError('interface', `${nic.name} is already enslaved to another master (ifindex ${nic.master})`)
  }

  if (!bridge) {
    const created = await tx.step('bridge', 'links', async (s) => {
      const link = await rtnl.addLink({
        kind: 'bridge',
        name: bridgeName,
        stp: false,
        forwardDelay: 0,
        group: plan.group,
        alias: plan.alias.bridge,
        ...(plan.mtu !== undefined ? { mtu: plan.mtu } : nic ? { mtu: nic.mtu } : {}),
        // A bridge network keeps the NIC's MAC so the LAN's DHCP leases and ARP caches stay valid.
        ...(nic?.mac ? { mac: nic.mac } : {}),
      })
      s.onUndo(() => rtnl.deleteLink(link.index))
      s.outcome('created')
      return link
    })
    bridge = created
    if (plan.noHostAddress) {
      // No host address means no host at all on this L2: without this the kernel would give the bridge an
      // IPv6 link-local address and the host could still talk to guests.
      await tx.step('bridge-no-ipv6', 'sysctls', () => writeSysctl(ns, `net/ipv6/conf/${bridgeName}/disable_ipv6`, '1'))
    }
  }
  const br = bridge

  if (plan.mode === 'bridge' && nic && nic.master !== br.index) {
    await moveNicToBridge(rtnl, tx, nic, br, state)
  }

  await tx.step('addresses', 'addresses', async (s) => {
    const have = await rtnl.listAddresses(br.index)
    const want = new Set(plan.addresses.map(normCidr))
    let changed = false
    for (const cidr of plan.addresses) {
      if (have.some((a) => normCidr(a.cidr) === normCidr(cidr))) continue
      await rtnl.addAddress(br.index, cidr)
      s.onUndo(() => rtnl.deleteAddress(br.index, cidr).catch(ignoreNotFound))
      changed = true
    }
    if (plan.mode !== 'bridge') {
      for (const a of have) {
        if (isLinkLocal6(a.cidr) || want.has(normCidr(a.cidr))) continue
        await rtnl.deleteAddress(br.index, a.cidr)
        s.onUndo(() => rtnl.addAddress(br.index, a.cidr))
        changed = true
      }
    }
    s.outcome(changed ? 'updated' : 'unchanged')
  })

  if (!br.up) {
    await tx.step('bridge-up', 'links', async (s) => {
      await rtnl.setLink(br.index, { up: true })
      s.onUndo(() => rtnl.setLink(br.index, { up: false }).catch(ignoreNotFound))
    })
  }
}

function normCidr(cidr: string): string {
  const [a, len] = ipaddr.parseCIDR(cidr)
  return `${a.toNormalizedString()}/${len}`
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err
}

/**
 * Bridge mode: enslave the NIC and move its addresses and routes to the bridge in one step, so the host
 * keeps its connectivity through the bridge. What was moved is recorded in the state to put back on down.
 */
async function moveNicToBridge(rtnl: Rtnl, tx: Transaction, nic: LinkInfo, br: LinkInfo, state: NetworkState): Promise<void> {
  await tx.step('move-nic', 'addresses', async (s) => {
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

/** macvtap networks: the optional host macvlan (bridge mode) that lets the host reach guests. */
async function applyMacvtapHost(rtnl: Rtnl, tx: Transaction, plan: NetworkPlan, spec: NetworkSpec): Promise<void> {
  const parent = await rtnl.findLink(spec.interface!)
  if (!parent) throw new SpecError('interface', `no interface named ${spec.interface} in this namespace`)
  if (parent.kind === 'bridge') throw new SpecError('interface', `${parent.name} is a bridge; macvtap needs a NIC`)
  if (!plan.hostHelper) return
  const name = plan.hostHelper
  let helper = await rtnl.findLink(name)
  if (helper) assertOurs(helper, plan.alias.host, 'hostAccess')
  await assertSubnetFree(rtnl, plan, new Set(helper ? [helper.index] : []))
  if (!helper) {
    helper = await tx.step('host-macvlan', 'links', async (s) => {
      const link = await rtnl.addLink({
        kind: 'macvlan',
        name,
        parent: parent.index,
        mode: 'bridge',
        group: plan.group,
        alias: plan.alias.host,
        ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
      })
      s.onUndo(() => rtnl.deleteLink(link.index))
      return link
    })
  }
  const h = helper
  await tx.step('addresses', 'addresses', async (s) => {
    const have = new Set((await rtnl.listAddresses(h.index)).map((a) => normCidr(a.cidr)))
    let changed = false
    for (const cidr of plan.addresses) {
      if (have.has(normCidr(cidr))) continue
      await rtnl.addAddress(h.index, cidr)
      changed = true
    }
    s.outcome(changed ? 'updated' : 'unchanged')
  })
  if (!h.up || !parent.up) {
    await tx.step('host-macvlan-up', 'links', async () => {
      if (!parent.up) await rtnl.setLink(parent.index, { up: true })
      await rtnl.setLink(h.index, { up: true })
    })
  }
}

/**
 * Create the planned ports that do not exist yet (taps in one native batch, then one pipelined round of
 * netlink requests for master/group/alias/up); with `prune`, remove this network's ports that are not in
 * `ports` (a full apply; adding one port prunes nothing).
 * Returns the fds of non-persistent taps.
 */
export async function applyPorts(
  rtnl: Rtnl,
  ns: Netns,
  tx: Transaction,
  plan: NetworkPlan,
  ports: PlannedPort[],
  opts: { prune: boolean },
): Promise<Map<string, number[]>> {
  const fds = new Map<string, number[]>()
  const existing = new Map<string, LinkInfo>()
  const ours = plan.mode === 'macvtap' ? await rtnl.listLinks({ group: plan.group }) : await rtnl.listLinks({ master: plan.bridge! })
  for (const l of ours) existing.set(l.name, l)
  const missing: PlannedPort[] = []
  // A name not among the network's links may still be taken by another link: ask for all of them at
  // once (pipelined on one socket) rather than one round trip per port.
  const found = await Promise.all(ports.map((p) => existing.get(p.name) ?? rtnl.findLink(p.name)))
  for (const [i, p] of ports.entries()) {
    const have = found[i]
    if (have) {
      assertOurs(have, plan.alias.port, `ports.${p.name}`)
      const kind = have.kind === 'tun' ? 'tap' : have.kind
      if (kind !== p.kind) throw new SpecError(`ports.${p.name}`, `${p.name} exists as ${have.kind}, not ${p.kind}`)
    } else missing.push(p)
  }

  if (missing.length > 0) {
    await tx.step(`ports(${missing.length})`, 'links', async (s) => {
      const taps = missing.filter((p) => p.kind === 'tap')
      const macvtaps = missing.filter((p) => p.kind === 'macvtap')
      if (taps.length > 0) {
        const handles = createTaps(
          ns,
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
        s.onUndo(async () => {
          for (const h of handles) if (!h.persistent) h.close()
          await Promise.all(handles.filter((h) => h.persistent).map((h) => rtnl.deleteLink(h.name).catch(ignoreNotFound)))
        })
        taps.forEach((p, i) => {
          const h = handles[i]!
          if (!h.persistent) fds.set(p.name, [...h.fds])
          else h.close()
        })
        // One pipelined round: every request is in flight at once on the same socket.
        await Promise.all(
          taps.map((p) =>
            rtnl.setLink(p.name, {
              master: plan.bridge!,
              group: plan.group,
              alias: plan.alias.port,
              mac: p.mac,
              ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
              up: true,
            }),
          ),
        )
      }
      if (macvtaps.length > 0) {
        const spec = plan
        const created: string[] = []
        s.onUndo(() => Promise.all(created.map((n) => rtnl.deleteLink(n).catch(ignoreNotFound))).then(() => undefined))
        const parent = spec.macvtapParent!
        await Promise.all(
          macvtaps.map(async (p) => {
            await rtnl.addLink({
              kind: 'macvtap',
              name: p.name,
              parent,
              mode: spec.macvtapMode ?? 'bridge',
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
      s.outcome('created')
    })
  }

  const planned = new Set(ports.map((p) => p.name))
  const stale = ours.filter((l) => !planned.has(l.name) && l.alias === plan.alias.port)
  if (stale.length > 0 && opts.prune) {
    await tx.step(`remove-ports(${stale.length})`, 'links', async () => {
      await Promise.all(stale.map((l) => rtnl.deleteLink(l.index).catch(ignoreNotFound)))
    })
  }
  return fds
}

/** Teardown of every link the network created: one group delete, then a check that nothing is left. */
export async function removePortLinks(rtnl: Rtnl, plan: NetworkPlan, state: NetworkState | undefined): Promise<void> {
  const group = state?.group ?? plan.group
  try {
    await rtnl.deleteGroup(group)
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  // Links created before they joined the group (a crash between create and set) are found by alias.
  const left = (await rtnl.listLinks({ group })).concat(
    plan.bridge ? [await rtnl.findLink(plan.bridge)].filter((l): l is LinkInfo => l !== undefined && l.alias === plan.alias.bridge) : [],
  )
  for (const l of left) await rtnl.deleteLink(l.index).catch(ignoreNotFound)
  if (left.length > 0 && (await rtnl.listLinks({ group })).length > 0) throw new KvmnetError(`links of group ${group} remain after teardown`)
}
