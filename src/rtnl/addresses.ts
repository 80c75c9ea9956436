/** Address operations: add, replace, delete, list (IPv4 and IPv6, as CIDR strings). */
import { ipaddr } from '../util/index.js'
import { SpecError } from '../errors.js'
import {
  decodeAddress,
  encodeAddAddress,
  encodeDeleteAddress,
  encodeDumpAddresses,
  parseHostCidr,
  type AddressInfo,
  type AddressOptions,
  type ParsedCidr,
} from './address-message.js'
import type { RtnlContext } from './context.js'
import type { LinkRef } from './link-types.js'
import { validateLinkRef } from './link-validate.js'
import { describe, indexOfDependency } from './resolve-link.js'
import { RTM_NEWADDR } from './wire/constants.js'

function checkCidr(cidr: string, field = 'cidr'): ParsedCidr {
  if (typeof cidr !== 'string' || !ipaddr.isValidCIDR(cidr)) throw new SpecError(field, `'${String(cidr)}' is not an address/prefix-length (e.g. 10.0.0.1/24, fd00::1/64)`)
  return parseHostCidr(cidr)
}

function checkOptions(opts: AddressOptions): void {
  if (opts.scope !== undefined && (!Number.isInteger(opts.scope) || opts.scope < 0 || opts.scope > 255)) throw new SpecError('scope', 'must be 0..255')
  if (opts.label !== undefined && (typeof opts.label !== 'string' || Buffer.byteLength(opts.label) > 15)) throw new SpecError('label', 'at most 15 bytes')
}

async function put(ctx: RtnlContext, link: LinkRef, cidr: string, opts: AddressOptions, replace: boolean): Promise<void> {
  validateLinkRef(link, 'link')
  const c = checkCidr(cidr)
  checkOptions(opts)
  const index = await indexOfDependency(ctx, link, 'link')
  await ctx.sock.request(encodeAddAddress(index, c, opts, replace), { object: `${cidr} on ${describe(link)}` })
}

/** EEXIST (isExists) when the link already has the address. */
export function addAddress(ctx: RtnlContext, link: LinkRef, cidr: string, opts: AddressOptions = {}): Promise<void> {
  return put(ctx, link, cidr, opts, false)
}

/** Add, or update the flags/scope of, the address. */
export function replaceAddress(ctx: RtnlContext, link: LinkRef, cidr: string, opts: AddressOptions = {}): Promise<void> {
  return put(ctx, link, cidr, opts, true)
}

/** EADDRNOTAVAIL (isNotFound) when the link does not have the address. */
export async function deleteAddress(ctx: RtnlContext, link: LinkRef, cidr: string): Promise<void> {
  validateLinkRef(link, 'link')
  const c = checkCidr(cidr)
  const index = await indexOfDependency(ctx, link, 'link')
  await ctx.sock.request(encodeDeleteAddress(index, c), { object: `${cidr} on ${describe(link)}` })
}

/** Addresses of one link (filtered by the kernel) or of all links. */
export async function listAddresses(ctx: RtnlContext, link?: LinkRef): Promise<AddressInfo[]> {
  if (link !== undefined) validateLinkRef(link, 'link')
  const index = link === undefined ? undefined : await indexOfDependency(ctx, link, 'link')
  const replies = await ctx.sock.dump(encodeDumpAddresses(index !== undefined ? { index } : {}), { object: 'addresses' })
  return replies
    .filter((r) => r.type === RTM_NEWADDR)
    .map((r) => decodeAddress(r.payload))
    .filter((a): a is AddressInfo => a !== undefined && (index === undefined || a.index === index))
}
