/**
 * A device's own forwarding database (NTF_SELF): the remote VTEPs of a VXLAN device. `bridge fdb append`,
 * `bridge fdb del` and `bridge fdb show dev` over the pipelined socket.
 */
import { ipaddr } from '../util/index.js'
import type { RtnlContext } from './context.js'
import { ALL_ZEROS_MAC, decodeFdb, encodeAddFdb, encodeDeleteFdb, encodeDumpFdb, type FdbEntry, type ResolvedFdb } from './fdb-message.js'
import { Issues } from './issues.js'
import type { LinkRef } from './link-types.js'
import { validateLinkRef } from './link-validate.js'
import { describe, indexOfDependency } from './resolve-link.js'
import { RTM_NEWNEIGH } from './wire/constants.js'
import { isMac } from './wire/mac.js'

export interface FdbSpec {
  /** The device whose own table holds the entry (a vxlan). */
  dev: LinkRef
  /** Default 00:00:00:00:00:00: the entry flooded frames (broadcast, unknown unicast, multicast) go to. */
  mac?: string
  /** The remote VTEP's address. */
  dst: string
}

export interface FdbFilter {
  dev?: LinkRef
}

function parse(spec: FdbSpec): { mac: string; dst: ipaddr.IPv4 | ipaddr.IPv6 } {
  const issues = new Issues()
  validateLinkRef(spec.dev, 'dev')
  const mac = spec.mac ?? ALL_ZEROS_MAC
  if (typeof mac !== 'string' || !isMac(mac)) issues.add('mac', `'${String(mac)}' is not a MAC address (aa:bb:cc:dd:ee:ff)`)
  if (typeof spec.dst !== 'string' || !ipaddr.isValid(spec.dst) || spec.dst.includes('%')) issues.add('dst', `'${String(spec.dst)}' is not an IP address`)
  issues.throwIfAny()
  return { mac: mac.toLowerCase(), dst: ipaddr.parse(spec.dst) }
}

async function resolve(ctx: RtnlContext, spec: FdbSpec): Promise<ResolvedFdb> {
  const p = parse(spec)
  return { ...p, index: await indexOfDependency(ctx, spec.dev, 'dev') }
}

function label(spec: FdbSpec): string {
  return `${spec.mac ?? ALL_ZEROS_MAC} dst ${spec.dst} dev ${describe(spec.dev)}`
}

/** Append a destination (an existing identical one is kept, not an error). */
export async function addFdb(ctx: RtnlContext, spec: FdbSpec): Promise<void> {
  const r = await resolve(ctx, spec)
  await ctx.sock.request(encodeAddFdb(r), { object: label(spec) })
}

/** Remove one destination of a MAC; ENOENT (isNotFound) when there is no such entry. */
export async function deleteFdb(ctx: RtnlContext, spec: FdbSpec): Promise<void> {
  const r = await resolve(ctx, spec)
  await ctx.sock.request(encodeDeleteFdb(r), { object: label(spec) })
}

/** The AF_BRIDGE FDB entries of a device (its own and, for a bridge port, the bridge's), or of every device. */
export async function listFdb(ctx: RtnlContext, filter: FdbFilter = {}): Promise<FdbEntry[]> {
  if (filter.dev !== undefined) validateLinkRef(filter.dev, 'dev')
  const index = filter.dev === undefined ? undefined : await indexOfDependency(ctx, filter.dev, 'dev')
  const replies = await ctx.sock.dump(encodeDumpFdb(index !== undefined ? { index } : {}), { object: filter.dev !== undefined ? `fdb of ${describe(filter.dev)}` : 'fdb' })
  return replies
    .filter((r) => r.type === RTM_NEWNEIGH)
    .map((r) => decodeFdb(r.payload))
    .filter((e): e is FdbEntry => e !== undefined && (index === undefined || e.index === index))
}
