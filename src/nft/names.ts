/**
 * How kvmnet's objects are named in nftables. Everything kvmnet owns is found again by these names alone,
 * so they are the single place that decides what "ours" means.
 */

/** Prefix of every table kvmnet creates; orphan cleanup deletes exactly the inet tables carrying it. */
export const TABLE_PREFIX = 'kvmnet_'

/** All kvmnet tables are inet: one table holds the IPv4 and IPv6 rules of a network (one transaction, one delete). */
export const TABLE_FAMILY = 'inet'

/** The table of network `tag`. */
export function tableName(tag: string): string {
  return `${TABLE_PREFIX}${tag}`
}

/** The tag of a kvmnet table name, undefined for any other table. */
export function tagOfTable(name: string): string | undefined {
  return name.startsWith(TABLE_PREFIX) && name.length > TABLE_PREFIX.length ? name.slice(TABLE_PREFIX.length) : undefined
}

/** Rule comments start with this, so `nft list ruleset` tells which network a rule belongs to. */
export function ruleComment(tag: string, what: string): string {
  return `kvmnet:${tag} ${what}`
}

export const TAG_PATTERN = /^[A-Za-z0-9_-]{1,32}$/
