/**
 * iptables in a namespace, for the rules kvmnet puts into another firewall's chain (Docker's DOCKER-USER):
 * iptables-nft, or iptables-legacy where that firewall keeps its chains in x_tables. Rules are found again
 * by their comment only: `iptables -S CHAIN` prints each rule as the arguments that made it, so a rule
 * carrying kvmnet's comment is deleted by giving those arguments to -D.
 */
import type { NetnsRef } from '../netns/index.js'
import { mustRun, runTool } from './run.js'

/** Where the chain lives: nftables (iptables-nft) or x_tables (iptables-legacy). */
export type IptablesBackend = 'nft' | 'legacy'

export function iptablesTool(family: 4 | 6, backend: IptablesBackend = 'nft'): string {
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${backend}`
}

/**
 * The words of one `iptables -S` line, as a shell would split it: iptables quotes an argument with spaces
 * (a comment) in double quotes, escaping `"` and `\` inside with a backslash.
 */
export function splitRuleLine(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let inWord = false
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] ?? ''
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i] ?? ''
      else if (ch === '"') quoted = false
      else cur += ch
    } else if (ch === '"') {
      quoted = true
      inWord = true
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) out.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += ch
      inWord = true
    }
  }
  if (inWord) out.push(cur)
  return out
}

/** The rules of `chain` (their arguments after `-A CHAIN`) that carry exactly the comment `tag`. */
export function taggedRules(listing: string, chain: string, tag: string): string[][] {
  const out: string[][] = []
  for (const line of listing.split('\n')) {
    const w = splitRuleLine(line)
    if (w[0] !== '-A' || w[1] !== chain) continue
    const rest = w.slice(2)
    const at = rest.indexOf('--comment')
    if (at >= 0 && rest[at + 1] === tag) out.push(rest)
  }
  return out
}

export async function listChain(ns: NetnsRef, family: 4 | 6, chain: string, backend: IptablesBackend = 'nft'): Promise<string | undefined> {
  const r = await runTool(ns, iptablesTool(family, backend), ['-w', '-S', chain])
  return r.exitCode === 0 ? r.stdout : undefined
}

/** Whether the rule is in the chain (iptables -C compares every match, the comment included). */
export async function ruleExists(ns: NetnsRef, family: 4 | 6, chain: string, rule: readonly string[], backend: IptablesBackend = 'nft'): Promise<boolean> {
  return (await runTool(ns, iptablesTool(family, backend), ['-w', '-C', chain, ...rule])).exitCode === 0
}

export async function insertRule(ns: NetnsRef, family: 4 | 6, chain: string, position: number, rule: readonly string[], backend: IptablesBackend = 'nft'): Promise<void> {
  await mustRun(ns, iptablesTool(family, backend), ['-w', '-I', chain, String(position), ...rule])
}

/** Delete every rule of `chain` carrying the comment `tag`; the number deleted (0 when the chain is gone). */
export async function deleteTagged(ns: NetnsRef, family: 4 | 6, chain: string, tag: string, backend: IptablesBackend = 'nft'): Promise<number> {
  const listing = await listChain(ns, family, chain, backend)
  if (listing === undefined) return 0
  const rules = taggedRules(listing, chain, tag)
  for (const rule of rules) await mustRun(ns, iptablesTool(family, backend), ['-w', '-D', chain, ...rule])
  return rules.length
}
