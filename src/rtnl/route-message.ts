/** RTM_*ROUTE requests from RouteSpec, and RouteInfo from RTM_NEWROUTE replies. Pure. */
import { SpecError } from '../errors.js'
import { ipaddr } from '../util/index.js'
import { AttrIndex, attr, attrU32 } from './wire/attrs.js'
import {
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  ROUTE_TYPES,
  RTA_DST,
  RTA_GATEWAY,
  RTA_IIF,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_SRC,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTPROT_BOOT,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_SITE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  type RouteType,
} from './wire/constants.js'
import { encodeMessage } from './wire/header.js'
import { afOf, familyFromAf, familyOf, ipBytes, ipString, type Family } from './wire/ip.js'
import { decodeRtMsg, encodeRtMsg, RTMSG_LEN } from './wire/rtmsg.js'
import type { LinkRef } from './link-types.js'

export type RouteScope = 'universe' | 'site' | 'link' | 'host' | 'nowhere'
export const ROUTE_SCOPES: Readonly<Record<RouteScope, number>> = {
  universe: RT_SCOPE_UNIVERSE,
  site: RT_SCOPE_SITE,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
  nowhere: RT_SCOPE_NOWHERE,
}

export interface RouteSpec {
  /** 'default' (0.0.0.0/0, or ::/0 when the gateway is IPv6) or a CIDR; host bits must be zero. */
  dst: 'default' | string
  gateway?: string
  dev?: LinkRef
  /** Routing table id (default 254, main). */
  table?: number
  /** RTA_PRIORITY, the route metric. */
  metric?: number
  /** RT_SCOPE_* name or number; default: link for a gatewayless unicast route, else universe. */
  scope?: RouteScope | number
  /** RTPROT_* number (default 3, boot — what `ip route add` uses). */
  protocol?: number
  prefsrc?: string
  /** Default 'unicast'. */
  type?: RouteType
  /** Needed only for 'default' without a gateway (e.g. a blackhole default); otherwise inferred. */
  family?: Family
}

export interface RouteInfo {
  family: Family
  /** 'default' or a CIDR. */
  dst: string
  gateway?: string | undefined
  /** Output ifindex. */
  dev?: number | undefined
  /** Output device name, filled in by listRoutes. */
  devName?: string | undefined
  table: number
  metric?: number | undefined
  scope: number
  protocol: number
  prefsrc?: string | undefined
  type: RouteType
}

/** A route spec with everything parsed and the device resolved to an index. */
export interface ResolvedRoute {
  family: Family
  dst: ipaddr.IPv4 | ipaddr.IPv6 | undefined
  dstLen: number
  gateway: ipaddr.IPv4 | ipaddr.IPv6 | undefined
  prefsrc: ipaddr.IPv4 | ipaddr.IPv6 | undefined
  dev: number | undefined
  table: number
  metric: number | undefined
  scope: number | undefined
  protocol: number | undefined
  type: RouteType
}

function scopeFor(r: ResolvedRoute, del: boolean): number {
  if (r.scope !== undefined) return r.scope
  // iproute2's defaults: a delete matches any scope; local routes are host scope; a unicast route
  // without a gateway is on-link.
  if (del) return RT_SCOPE_NOWHERE
  if (r.type === 'local' || r.type === 'nat') return RT_SCOPE_HOST
  if (r.type === 'broadcast' || r.type === 'multicast' || r.type === 'anycast') return RT_SCOPE_LINK
  if (r.type === 'unicast' && !r.gateway) return RT_SCOPE_LINK
  return RT_SCOPE_UNIVERSE
}

function routeBody(r: ResolvedRoute, del: boolean): Buffer[] {
  const rtm = encodeRtMsg({
    family: afOf(r.family),
    dstLen: r.dstLen,
    // Tables above 255 do not fit rtm_table: RTA_TABLE carries them.
    table: r.table < 256 ? r.table : RT_TABLE_UNSPEC,
    protocol: r.protocol ?? (del ? 0 : RTPROT_BOOT),
    scope: scopeFor(r, del),
    type: ROUTE_TYPES.indexOf(r.type),
  })
  const attrs: Buffer[] = [attrU32(RTA_TABLE, r.table)]
  if (r.dst && r.dstLen > 0) attrs.push(attr(RTA_DST, ipBytes(r.dst)))
  if (r.prefsrc) attrs.push(attr(RTA_PREFSRC, ipBytes(r.prefsrc)))
  if (r.gateway) attrs.push(attr(RTA_GATEWAY, ipBytes(r.gateway)))
  if (r.dev !== undefined) attrs.push(attrU32(RTA_OIF, r.dev))
  if (r.metric !== undefined) attrs.push(attrU32(RTA_PRIORITY, r.metric))
  return [rtm, ...attrs]
}

export function encodeAddRoute(r: ResolvedRoute, replace = false): Buffer {
  const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL)
  return encodeMessage(RTM_NEWROUTE, flags, routeBody(r, false))
}

export function encodeDeleteRoute(r: ResolvedRoute): Buffer {
  return encodeMessage(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, routeBody(r, true))
}

/** Route dump, filtered in the kernel by table and output device (strict checking). table 0 = all. */
export function encodeDumpRoutes(filter: { family?: Family; table?: number; dev?: number } = {}): Buffer {
  const table = filter.table ?? RT_TABLE_MAIN
  const rtm = encodeRtMsg({ family: filter.family ? afOf(filter.family) : 0, table: table < 256 ? table : RT_TABLE_UNSPEC })
  const attrs: Buffer[] = []
  if (table >= 256) attrs.push(attrU32(RTA_TABLE, table))
  if (filter.dev !== undefined) attrs.push(attrU32(RTA_OIF, filter.dev))
  return encodeMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, [rtm, ...attrs])
}

/**
 * `ip route get DST [from SRC] [iif IFINDEX]`: one route lookup by the kernel. With an input interface it
 * is the input lookup a packet from SRC arriving there gets, reverse-path filtering included.
 */
export function encodeRouteGet(q: { dst: string; src?: string | undefined; iif?: number | undefined }): Buffer {
  if (!ipaddr.isValid(q.dst)) throw new SpecError('dst', `not an IP address: ${q.dst}`)
  if (q.src !== undefined && !ipaddr.isValid(q.src)) throw new SpecError('src', `not an IP address: ${q.src}`)
  const dst = ipaddr.parse(q.dst)
  const family = familyOf(dst)
  const src = q.src === undefined ? undefined : ipaddr.parse(q.src)
  if (src && familyOf(src) !== family) throw new SpecError('src', `${q.src} is not of the family of ${q.dst}`)
  const bits = family === 4 ? 32 : 128
  const rtm = encodeRtMsg({ family: afOf(family), dstLen: bits, srcLen: src ? bits : 0 })
  const attrs = [attr(RTA_DST, ipBytes(dst))]
  if (src) attrs.push(attr(RTA_SRC, ipBytes(src)))
  if (q.iif !== undefined) attrs.push(attrU32(RTA_IIF, q.iif))
  return encodeMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, [rtm, ...attrs])
}

export function decodeRoute(payload: Buffer): RouteInfo | undefined {
  const rtm = decodeRtMsg(payload)
  const family = familyFromAf(rtm.family)
  if (!family) return undefined
  // Indexed, not cut into a Map of Buffers: a dump decodes every route of the table.
  const a = new AttrIndex(payload, RTMSG_LEN)
  const dst = a.get(RTA_DST)
  const gw = a.get(RTA_GATEWAY)
  const src = a.get(RTA_PREFSRC)
  return {
    family,
    dst: rtm.dstLen === 0 || !dst ? 'default' : `${ipString(dst)}/${rtm.dstLen}`,
    gateway: gw ? ipString(gw) : undefined,
    dev: a.u32(RTA_OIF),
    table: a.u32(RTA_TABLE) ?? rtm.table,
    metric: a.u32(RTA_PRIORITY),
    scope: rtm.scope,
    protocol: rtm.protocol,
    prefsrc: src ? ipString(src) : undefined,
    type: ROUTE_TYPES[rtm.type] ?? 'unspec',
  }
}
