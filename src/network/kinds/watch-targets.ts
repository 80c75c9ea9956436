/**
 * What a watcher of one network looks after, from its plan: its nft tables (the address-learning one too), its bridge, its ports (and
 * whether they belong on the bridge), other links it made (a macvtap network's host helper) and the host
 * addresses each of those links must carry, and the devices that carry its bandwidth limits. Anything else in the namespace is someone else's business.
 */
import { NFPROTO, learnTableName, tableName } from '../../nft/index.js'
import { canonCidr, type WatchTargets } from '../../watch/index.js'
import type { NetworkPlan } from '../plan.js'
import { firewallOf } from './plan-parts.js'
import { shapingOf } from './bandwidth.js'
import { learningOf } from './learning.js'

export function watchTargets(plan: NetworkPlan): WatchTargets {
  const firewall = firewallOf(plan)
  const tables: WatchTargets['tables'] = firewall === undefined ? [] : [{ family: NFPROTO.inet, name: tableName(firewall.tag) }]
  // The bridge-family table exists only while some port is filtered (each apply deletes it otherwise).
  if (firewall?.portFilters?.length) tables.push({ family: NFPROTO.bridge, name: tableName(firewall.tag) })
  // The address-learning table: without it `addresses()` knows only the leases.
  const learning = learningOf(plan)
  if (learning) tables.push({ family: NFPROTO[learning.family], name: learnTableName(learning.tag) })
  // A bridge network's bridge takes over a NIC; kvmnet makes it all the same, so it is watched like any.
  const bridge = 'bridge' in plan ? plan.bridge : undefined
  const ports = new Map(plan.ports.map((p) => [p.name, { enslaved: bridge !== undefined && p.kind === 'tap' }]))
  const links = new Set<string>()
  const addresses = new Map<string, Set<string>>()
  if ('bridge' in plan && plan.addresses.length > 0) addresses.set(plan.bridge, cidrSet(plan.addresses))
  if (plan.mode === 'macvtap' && plan.hostHelper) {
    links.add(plan.hostHelper.name)
    if (plan.hostHelper.addresses.length > 0) addresses.set(plan.hostHelper.name, cidrSet(plan.hostHelper.addresses))
  }
  const shaping = shapingOf(plan)
  const shaped = new Set([...shaping.devices.filter((d) => d.root !== undefined || d.redirectTo !== undefined).map((d) => d.dev), ...shaping.ifbs])
  return { tables, bridge, ports, portAlias: plan.alias.port, links, addresses, shaped }
}

function cidrSet(list: readonly string[]): Set<string> {
  return new Set(list.map(canonCidr).filter((c): c is string => c !== undefined))
}
