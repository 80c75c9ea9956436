/**
 * What a watcher of one network looks after, from its plan: its nft tables, its bridge, its ports (and
 * whether they belong on the bridge), other links it made (a macvtap network's host helper) and the host
 * addresses each of those links must carry. Anything else in the namespace is someone else's business.
 */
import ipaddr from '../util/ipaddr.js'
import type { NetworkPlan } from '../network/plan.js'
import { tableName } from '../nft/names.js'
import { NFPROTO } from './nft-notification.js'

export interface WatchTargets {
  /** The network's nft tables, as (family, name). */
  tables: { family: number; name: string }[]
  /** The bridge kvmnet made for the network (absent for macvtap networks). */
  bridge: string | undefined
  /** Port names; `enslaved`: the port belongs on the bridge. */
  ports: Map<string, { enslaved: boolean }>
  /** The alias every finished port carries (a port still being made has none yet). */
  portAlias: string
  /** Other links the network made. */
  links: Set<string>
  /** Link name → its planned host addresses, spelt by canonCidr (10.0.0.1/24, fd00::1/64). */
  addresses: Map<string, Set<string>>
}

export function watchTargets(plan: NetworkPlan): WatchTargets {
  const firewall = 'firewall' in plan ? plan.firewall : undefined
  const tables: WatchTargets['tables'] = firewall === undefined ? [] : [{ family: NFPROTO.inet, name: tableName(firewall.tag) }]
  // The bridge-family table exists only while some port is filtered (each apply deletes it otherwise).
  if (firewall?.portFilters?.length) tables.push({ family: NFPROTO.bridge, name: tableName(firewall.tag) })
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
  return { tables, bridge, ports, portAlias: plan.alias.port, links, addresses }
}

/** One spelling per address: 10.0.0.1/24, fd00::1/64 (RFC 5952); undefined for what is not a CIDR. */
export function canonCidr(cidr: string): string | undefined {
  try {
    const [a, len] = ipaddr.parseCIDR(cidr)
    return `${a.toString()}/${len}`
  } catch {
    return undefined
  }
}

function cidrSet(list: readonly string[]): Set<string> {
  return new Set(list.map(canonCidr).filter((c): c is string => c !== undefined))
}
