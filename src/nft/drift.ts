/**
 * Whether a network's table in the kernel still holds what kvmnet installed: the same chains and the
 * same number of rules as the rendered document. A flushed table (`nft flush table`, a firewall reload
 * that keeps tables), a deleted table or a rule removed by hand all show; kvmnet re-installs on `up`.
 */
import type { InstalledNetworkRules, NetworkRules } from './model.js'
import { renderRules } from './render.js'

export interface RulesDrift {
  /** Empty when the table holds what was installed. */
  problems: string[]
}

export function rulesDrift(rules: NetworkRules, installed: InstalledNetworkRules | undefined): RulesDrift {
  if (!installed) return { problems: [`nft table inet kvmnet_${rules.tag} missing`] }
  const doc = renderRules(rules).nftables
  const wantChains = new Map<string, number>()
  // The inet table's chains (the port filters' bridge table is not read back here).
  for (const item of doc) {
    const c = (item as { add?: { chain?: { name: string; family: string } } }).add?.chain
    if (c && c.family === 'inet') wantChains.set(c.name, 0)
  }
  for (const item of doc) {
    const r = (item as { add?: { rule?: { chain: string; family: string } } }).add?.rule
    if (r && r.family === 'inet') wantChains.set(r.chain, (wantChains.get(r.chain) ?? 0) + 1)
  }
  const problems: string[] = []
  for (const [name, count] of wantChains) {
    const have = installed.chains.find((c) => c.name === name)
    if (!have) problems.push(`nft chain ${name} missing`)
    else if (have.rules !== count) problems.push(`nft chain ${name} has ${have.rules} of its ${count} rules`)
  }
  return { problems }
}
