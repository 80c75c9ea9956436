/** RouteSpec checked and parsed (everything but the device, which needs the kernel). */
import { ipaddr } from '../util/index.js'
import { Issues } from './issues.js'
import { ROUTE_SCOPES, type ResolvedRoute, type RouteSpec } from './route-message.js'
import { ROUTE_TYPES, RT_TABLE_MAIN } from './wire/constants.js'
import type { Family } from './wire/ip.js'
import { validateLinkRef } from './link-validate.js'

type Addr = ipaddr.IPv4 | ipaddr.IPv6

function u(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max
}

export function parseRouteSpec(spec: RouteSpec): Omit<ResolvedRoute, 'dev'> {
  const issues = new Issues()
  const ip = (field: string, v: unknown): Addr | undefined => {
    if (v === undefined) return undefined
    if (typeof v !== 'string' || !ipaddr.isValid(v)) {
      issues.add(field, `'${String(v)}' is not an IP address`)
      return undefined
    }
    return ipaddr.parse(v)
  }
  const gateway = ip('gateway', spec.gateway)
  const prefsrc = ip('prefsrc', spec.prefsrc)
  let dst: Addr | undefined
  let dstLen = 0
  let family: Family | undefined = spec.family
  if (family !== undefined && family !== 4 && family !== 6) issues.add('family', 'must be 4 or 6')
  if (spec.dst === 'default') {
    family ??= gateway ? (gateway.kind() === 'ipv4' ? 4 : 6) : prefsrc ? (prefsrc.kind() === 'ipv4' ? 4 : 6) : 4
  } else if (typeof spec.dst !== 'string' || !ipaddr.isValidCIDR(spec.dst)) {
    issues.add('dst', `'${String(spec.dst)}' is neither 'default' nor a CIDR`)
  } else {
    const [a, len] = ipaddr.parseCIDR(spec.dst)
    const net = a.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(spec.dst) : ipaddr.IPv6.networkAddressFromCIDR(spec.dst)
    if (net.toString() !== a.toString()) issues.add('dst', `${spec.dst} has host bits set (the network is ${net.toString()}/${len})`)
    dst = a
    dstLen = len
    const f: Family = a.kind() === 'ipv4' ? 4 : 6
    if (family !== undefined && family !== f) issues.add('family', `dst ${spec.dst} is IPv${f}`)
    family = f
  }
  const fam = family ?? 4
  const kind = fam === 4 ? 'ipv4' : 'ipv6'
  if (gateway && gateway.kind() !== kind) issues.add('gateway', `${spec.gateway} is not IPv${fam} like the destination`)
  if (prefsrc && prefsrc.kind() !== kind) issues.add('prefsrc', `${spec.prefsrc} is not IPv${fam} like the destination`)
  if (spec.table !== undefined && (!u(spec.table, 0xffffffff) || spec.table === 0)) issues.add('table', 'must be an integer 1..4294967295')
  if (spec.metric !== undefined && !u(spec.metric, 0xffffffff)) issues.add('metric', 'must be an integer 0..4294967295')
  if (spec.protocol !== undefined && !u(spec.protocol, 255)) issues.add('protocol', 'must be 0..255')
  let scope: number | undefined
  if (typeof spec.scope === 'string') {
    scope = ROUTE_SCOPES[spec.scope]
    if (scope === undefined) issues.add('scope', `must be one of ${Object.keys(ROUTE_SCOPES).join(', ')} or 0..255`)
  } else if (spec.scope !== undefined) {
    if (!u(spec.scope, 255)) issues.add('scope', 'must be 0..255')
    else scope = spec.scope
  }
  const type = spec.type ?? 'unicast'
  if (!ROUTE_TYPES.includes(type) || type === 'unspec') issues.add('type', `must be one of ${ROUTE_TYPES.slice(1).join(', ')}`)
  if (spec.dev !== undefined) {
    try {
      validateLinkRef(spec.dev, 'dev')
    } catch (err) {
      issues.add('dev', (err as { reason?: string }).reason ?? String(err))
    }
  }
  issues.throwIfAny()
  return {
    family: fam,
    dst,
    dstLen,
    gateway,
    prefsrc,
    table: spec.table ?? RT_TABLE_MAIN,
    metric: spec.metric,
    scope,
    protocol: spec.protocol,
    type,
  }
}
