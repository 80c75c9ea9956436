/** Names to ifindexes (one GETLINK by IFLA_IFNAME, no dump), and LinkTarget for requests. */
import { SpecError, isNotFound } from '../errors.js'
import type { RtnlContext } from './context.js'
import type { LinkInfo, LinkRef } from './link-types.js'
import { decodeLink, encodeGetLink, type LinkTarget } from './link-message.js'
import { RTM_NEWLINK } from './wire/constants.js'
import { KvmnetError } from '../errors.js'

export function targetOf(ref: LinkRef): LinkTarget {
  return typeof ref === 'number' ? { index: ref } : { name: ref }
}

export function describe(ref: LinkRef): string {
  return typeof ref === 'number' ? `ifindex ${ref}` : ref
}

export async function fetchLink(ctx: RtnlContext, ref: LinkRef): Promise<LinkInfo> {
  const replies = await ctx.sock.request(encodeGetLink(targetOf(ref)), { object: describe(ref) })
  const msg = replies.find((r) => r.type === RTM_NEWLINK)
  if (!msg) throw new KvmnetError(`RTM_GETLINK (${describe(ref)}) was acked without a link`)
  return decodeLink(msg.payload)
}

/**
 * The ifindex of a link the request depends on (a master, a parent). Its absence is bad input, named
 * by `field`; the kernel's ENODEV is kept as the cause.
 */
export async function indexOfDependency(ctx: RtnlContext, ref: LinkRef, field: string, verifyIndex = false): Promise<number> {
  if (typeof ref === 'number' && !verifyIndex) return ref
  try {
    return (await fetchLink(ctx, ref)).index
  } catch (err) {
    if (!isNotFound(err)) throw err
    const e = new SpecError(field, `no link ${typeof ref === 'number' ? `with ifindex ${ref}` : `named '${ref}'`} in this namespace`)
    Object.defineProperty(e, 'cause', { value: err, enumerable: false, configurable: true, writable: true })
    throw e
  }
}
