/**
 * An edit that only adds, sent as a transaction that only adds. Why: whatever a transaction deletes or
 * flushes, nf_tables frees after an RCU grace period, and releasing any nf_tables netlink socket (at the
 * latest a process's exit) waits for that (NETLINK_URELEASE -> flush_work(trans_destroy_work)). The full
 * replace (add table; delete table; add table ...) deletes, so a kvmnet-cni ADD or `forward add` waited
 * 5-20 ms in its own exit. When the rules wanted are the installed ones plus rules appended to chains
 * that exist, the appends alone give the same table.
 */
import { METAINFO, type NftCommand, type NftDocument } from './json.js'

/**
 * `prev`, `next`: full documents (renderRules) of the installed and the wanted rules. The `add rule`
 * commands that turn prev's table into next's, or undefined when next is not prev plus rules each
 * appended at the end of a chain prev already has (a new chain, set, table, a changed or removed rule, a
 * rule placed before an existing one): then only the full replace gives the right order.
 */
export function renderAddsOnly(prev: NftDocument, next: NftDocument): NftDocument | undefined {
  const was = prev.nftables.map((c) => JSON.stringify(c))
  const chains = new Set<string>()
  for (const c of prev.nftables) if ('add' in c && 'chain' in c.add) chains.add(chainKey(c.add.chain.family, c.add.chain.table, c.add.chain.name))
  // Per chain: the position in next of its last rule that prev has too; an extra rule must come after it.
  const lastKept = new Map<string, number>()
  const extras: Array<{ at: number; chain: string; cmd: NftCommand }> = []
  let j = 0
  for (const [i, c] of next.nftables.entries()) {
    if (j < was.length && JSON.stringify(c) === was[j]) {
      j++
      if ('add' in c && 'rule' in c.add) lastKept.set(chainKey(c.add.rule.family, c.add.rule.table, c.add.rule.chain), i)
      continue
    }
    if (!('add' in c && 'rule' in c.add)) return undefined
    const key = chainKey(c.add.rule.family, c.add.rule.table, c.add.rule.chain)
    if (!chains.has(key)) return undefined
    extras.push({ at: i, chain: key, cmd: c })
  }
  if (j !== was.length || extras.length === 0) return undefined
  if (extras.some((e) => e.at < (lastKept.get(e.chain) ?? -1))) return undefined
  return { nftables: [METAINFO, ...extras.map((e) => e.cmd)] }
}

const chainKey = (family: string, table: string, chain: string): string => `${family} ${table} ${chain}`
