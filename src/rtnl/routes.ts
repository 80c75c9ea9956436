/** Route operations: add, replace, delete, list. */
import { KvmnetError, SpecError, isNotFound } from '../errors.js'
import type { RtnlContext } from './context.js'
import type { LinkRef } from './link-types.js'
import { findLink, linkNamesByIndex } from './links.js'
import { validateLinkRef } from './link-validate.js'
import { indexOfDependency } from './resolve-link.js'
import { decodeRoute, encodeAddRoute, encodeDeleteRoute, encodeDumpRoutes, encodeRouteGet, type ResolvedRoute, type RouteInfo, type RouteSpec } from './route-message.js'
import { bytePrefixes, routeOverlapsAny } from './route-overlap.js'
import { parseRouteSpec } from './route-validate.js'
import { RTM_NEWROUTE } from './wire/constants.js'
import type { Family } from './wire/ip.js'

export interface RouteFilter {
  family?: Family
  /** Default 254 (main), like `ip route`; 0 lists every table. */
  table?: number
  dev?: LinkRef
  /**
   * Fill in each route's devName (default true). Naming more than a few devices takes a dump of every
   * link in the namespace: a caller that needs names only for an error message asks for one link then.
   */
  devNames?: boolean
  /**
   * Only routes whose destination overlaps one of these prefixes (a default route overlaps every one),
   * judged in the datagram: the rest of the table is never decoded (route-overlap.ts).
   */
  overlapping?: readonly string[]
}

/** Up to this many devices are named by one GETLINK each (pipelined) rather than a dump of every link. */
const NAMES_BY_REQUEST = 16

async function resolve(ctx: RtnlContext, spec: RouteSpec): Promise<ResolvedRoute> {
  const parsed = parseRouteSpec(spec)
  const dev = spec.dev === undefined ? undefined : await indexOfDependency(ctx, spec.dev, 'dev')
  return { ...parsed, dev }
}

function label(spec: RouteSpec): string {
  return `${spec.dst}${spec.gateway ? ` via ${spec.gateway}` : ''}${spec.dev !== undefined ? ` dev ${spec.dev}` : ''}${spec.table !== undefined ? ` table ${spec.table}` : ''}`
}

/** EEXIST (isExists) when the route exists. */
export async function addRoute(ctx: RtnlContext, spec: RouteSpec): Promise<void> {
  const r = await resolve(ctx, spec)
  await ctx.sock.request(encodeAddRoute(r), { object: label(spec) })
}

export async function replaceRoute(ctx: RtnlContext, spec: RouteSpec): Promise<void> {
  const r = await resolve(ctx, spec)
  await ctx.sock.request(encodeAddRoute(r, true), { object: label(spec) })
}

/** ESRCH (isNotFound) when no route matches. */
export async function deleteRoute(ctx: RtnlContext, spec: RouteSpec): Promise<void> {
  const r = await resolve(ctx, spec)
  await ctx.sock.request(encodeDeleteRoute(r), { object: label(spec) })
}

export async function listRoutes(ctx: RtnlContext, filter: RouteFilter = {}): Promise<RouteInfo[]> {
  const table = filter.table ?? 254
  if (!Number.isInteger(table) || table < 0 || table > 0xffffffff) throw new SpecError('table', 'must be an integer 0..4294967295')
  if (filter.family !== undefined && filter.family !== 4 && filter.family !== 6) throw new SpecError('family', 'must be 4 or 6')
  if (filter.dev !== undefined) validateLinkRef(filter.dev, 'dev')
  const dev = filter.dev === undefined ? undefined : await indexOfDependency(ctx, filter.dev, 'dev')
  const prefixes = filter.overlapping && bytePrefixes(filter.overlapping, 'overlapping')
  let replies
  try {
    replies = await ctx.sock.dump(encodeDumpRoutes({ table, ...(filter.family ? { family: filter.family } : {}), ...(dev !== undefined ? { dev } : {}) }), {
      object: 'routes',
      ...(prefixes ? { keep: (buf: Buffer, start: number, end: number) => routeOverlapsAny(buf, start, end, prefixes) } : {}),
    })
  } catch (err) {
    // A table that has never held a route does not exist yet: that is an empty table.
    if (isNotFound(err) && table !== 0) return []
    throw err
  }
  const routes = replies
    .filter((r) => r.type === RTM_NEWROUTE)
    .map((r) => decodeRoute(r.payload))
    .filter(
      (r): r is RouteInfo =>
        r !== undefined && (table === 0 || r.table === table) && (dev === undefined || r.dev === dev) && (filter.family === undefined || r.family === filter.family),
    )
  if (filter.devNames !== false) await nameDevices(ctx, routes)
  return routes
}

/**
 * The kernel's route for a packet to `dst` (`ip route get`): from `src` and arriving on `iif`, it is the
 * input lookup such a packet gets, reverse-path filtering included. A packet the kernel would not route
 * is a NetlinkError with its errno (ENETUNREACH, EHOSTUNREACH; EINVAL for a source rp_filter refuses, a
 * "martian" to the kernel).
 */
export async function routeGet(ctx: RtnlContext, q: { dst: string; src?: string | undefined; iif?: LinkRef | undefined }): Promise<RouteInfo> {
  const iif = q.iif === undefined ? undefined : await indexOfDependency(ctx, q.iif, 'iif')
  const label = `route get ${q.dst}${q.src ? ` from ${q.src}` : ''}${q.iif !== undefined ? ` iif ${q.iif}` : ''}`
  const replies = await ctx.sock.request(encodeRouteGet({ dst: q.dst, src: q.src, iif }), { object: label })
  const route = replies.filter((r) => r.type === RTM_NEWROUTE).map((r) => decodeRoute(r.payload))[0]
  if (!route) throw new KvmnetError(`${label}: the kernel answered without a route`)
  if (route.dev !== undefined) route.devName = (await findLink(ctx, route.dev))?.name
  return route
}

async function nameDevices(ctx: RtnlContext, routes: RouteInfo[]): Promise<void> {
  const devs = new Set<number>()
  for (const r of routes) if (r.dev !== undefined) devs.add(r.dev)
  if (devs.size === 0) return
  const names = devs.size <= NAMES_BY_REQUEST ? await namesByRequest(ctx, devs) : await linkNamesByIndex(ctx, devs)
  for (const r of routes) if (r.dev !== undefined) r.devName = names.get(r.dev)
}

/** A few devices' names, one GETLINK each in the same datagram; a device gone meanwhile stays unnamed. */
async function namesByRequest(ctx: RtnlContext, devs: ReadonlySet<number>): Promise<Map<number, string>> {
  const names = new Map<number, string>()
  await Promise.all(
    [...devs].map(async (index) => {
      const link = await findLink(ctx, index)
      if (link) names.set(index, link.name)
    }),
  )
  return names
}

/** Routes learnt from router advertisements (RTPROT_RA). */
export const RTPROT_RA = 9

/**
 * The namespace's default route in the main table for a family — the one the kernel uses (lowest
 * metric) — optionally only one from a given origin (RTPROT_RA); its device name filled in.
 */
export async function defaultRoute(ctx: RtnlContext, family: Family, opts: { protocol?: number } = {}): Promise<RouteInfo | undefined> {
  const candidates = (await listRoutes(ctx, { family, devNames: false })).filter((r) => r.dst === 'default' && (opts.protocol === undefined || r.protocol === opts.protocol))
  const best = candidates.sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0]
  if (best) await nameDevices(ctx, [best])
  return best
}
