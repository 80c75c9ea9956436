/**
 * A network's nft rules as kvmnet's typed reader lists them (Nft.rules), and questions about them asked
 * with the same builders the renderer uses: a test states the statement it expects, not a regex over
 * nft's text output.
 */
import { isDeepStrictEqual } from 'node:util'
import { Netns, Nft, type ListedRule, type Stmt } from '../../src/index.js'
import type { TestNs } from './ns.js'

export async function nftRules(ns: TestNs, network: string): Promise<ListedRule[]> {
  return new Nft(Netns.open(ns.path)).rules(network)
}

/** The rule carries every one of these statements (in any order, among others). */
export function hasAll(rule: ListedRule, ...stmts: Stmt[]): boolean {
  return stmts.every((want) => rule.expr.some((s) => isDeepStrictEqual(s, want)))
}

/** Some statement of some rule is of this kind (`masquerade`, `snat`, `dnat`, …). */
export function anyOfKind(rules: readonly ListedRule[], ...kinds: string[]): boolean {
  return rules.some((r) => r.expr.some((s) => kinds.some((k) => k in s)))
}
