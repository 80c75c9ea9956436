/**
 * Whether a network's table in the kernel still holds what kvmnet installed: the same chains and the
 * same number of rules as the rendered document, in the inet table and in the bridge-family table of port
 * filters. A flushed table (`nft flush table`, a firewall reload
 * that keeps tables), a deleted table or a rule removed by hand all show; kvmnet re-installs on `up`.
 */
import type { InstalledChain, InstalledNetworkRules, NetworkRules } from './model.js'
import { renderRules } from './render.js'

export interface RulesDrift {
  /** Empty when the table holds what was installed. */
  problems: string[]
}

export function rulesDrift(rules: NetworkRules, installed: InstalledNetworkRules | undefined): RulesDrift {
  if (!installed) return { problems: [`nft table inet kvmnet_${rules.tag} missing`] }
  const doc = renderRules(rules).nftables
  const problems = chainProblems(doc, 'inet', installed.chains, '')
  // The port filters' bridge table, when it was read back.
  if (installed.bridgeChains) problems.push(...chainProblems(doc, 'bridge', installed.bridgeChains, 'bridge '))
  return { problems }
}

/** Chains of `family` in the rendered document that are missing, or whose rule count differs, in `have`. */
function chainProblems(doc: readonly unknown[], family: string, have: readonly InstalledChain[], label: string): string[] {
  const wantChains = new Map<string, number>()
  for (const item of doc) {
    const c = (item as { add?: { chain?: { name: string; family: string } } }).add?.chain
    if (c && c.family === family) wantChains.set(c.name, 0)
  }
  for (const item of doc) {
    const r = (item as { add?: { rule?: { chain: string; family: string } } }).add?.rule
    if (r && r.family === family) wantChains.set(r.chain, (wantChains.get(r.chain) ?? 0) + 1)
  }
  const problems: string[] = []
  for (const [name, count] of wantChains) {
    const chain = have.find((c) => c.name === name)
    if (!chain) problems.push(`nft chain ${label}${name} missing`)
    else if (chain.rules !== count) problems.push(`nft chain ${label}${name} has ${chain.rules} of its ${count} rules`)
  }
  return problems
}
