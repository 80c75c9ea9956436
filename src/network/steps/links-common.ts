/** Small rules every link step shares: who owns a link, address spelling, NotFound as success. */
import ipaddr from 'ipaddr.js'
import { SpecError, isNotFound } from '../../errors.js'
import type { LinkInfo } from '../../rtnl/index.js'
import { parseAlias } from '../names.js'

/** A link that exists must be this network's (same alias) — never adopt an admin's or another network's. */
export function assertOurs(link: LinkInfo, alias: string, field: string): void {
  if (link.alias !== alias) {
    const owner = parseAlias(link.alias)
    throw new SpecError(field, `${link.name} already exists${owner ? ` and belongs to network ${owner.network}` : ' and is not managed by kvmnet'}`)
  }
}

export function normCidr(cidr: string): string {
  const [a, len] = ipaddr.parseCIDR(cidr)
  return `${a.toNormalizedString()}/${len}`
}

export function isLinkLocal6(cidr: string): boolean {
  return cidr.toLowerCase().startsWith('fe80:')
}

export function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err
}
