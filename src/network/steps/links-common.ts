/** Small rules every link step shares: who owns a link, address spelling, NotFound as success. */
import { ipaddr } from '../../util/index.js'
import { SpecError, isNotFound } from '../../errors.js'
import type { LinkInfo } from '../../rtnl/index.js'
import { parseAlias } from '../names.js'

/** What identifies a network's links besides their alias: its link group and the names it gives them. */
export interface LinkOwner {
  group: number
  names: ReadonlySet<string>
}

/**
 * A link of this network whose alias was never set: the kernel ignores IFLA_IFALIAS when it creates a
 * link, so the alias is a second request, and a process killed between the two leaves the link with only
 * the group of the creating request. Such a link — no alias, in the network's own group, with a name the
 * network gives its links — is the network's own half-made link (a group holding anyone else's links is
 * refused at up), to finish or remove; a link with any other alias never is.
 */
export function isHalfMade(link: LinkInfo, owner: LinkOwner): boolean {
  return !link.alias && link.group === owner.group && owner.names.has(link.name)
}

/** A link that exists must be this network's (same alias) — never adopt an admin's or another network's. */
export function assertOurs(link: LinkInfo, alias: string, field: string, owner?: LinkOwner): void {
  if (owner && isHalfMade(link, owner)) return
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

