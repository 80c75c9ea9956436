/**
 * ufw: its default policies drop incoming and routed traffic, so guests get no DHCP and reach nothing.
 * kvmnet asks ufw itself (its rules live in ufw's files, and a `ufw reload` would wipe anything added to
 * its chains behind its back): route allowances for the bridge and input allowances for what guests need
 * on the host (DHCP, DNS, DHCPv6, the spec's host services), each with comment `kvmnet:NET`.
 *
 * ufw treats two rules that differ only in their comment as the same rule (adding one re-comments the
 * other), so a rule the administrator already has is left alone and not recorded; and `ufw delete` with a
 * comment deletes only a rule whose comment matches — removal can never take the administrator's rule.
 */
import type { NetnsRef } from '../netns/index.js'
import { mustRun } from './run.js'
import { coexistTag, type CoexistTarget, type UfwRule } from './model.js'

/** The rules for a network, in ufw's canonical words (how `ufw show added` prints them back). */
export function ufwRules(target: Pick<CoexistTarget, 'bridge' | 'scope' | 'hostPorts'>): UfwRule[] {
  const b = target.bridge
  const route = target.scope === 'routed' ? [`route allow in on ${b}`, `route allow out on ${b}`] : [`route allow in on ${b} out on ${b}`]
  const input = target.hostPorts.map((p) => `allow in on ${b} to any port ${p.port}${p.proto === 'any' ? '' : ` proto ${p.proto}`}`)
  return [...route, ...input]
}

export interface AddedRule {
  rule: UfwRule
  comment: string | undefined
}

/**
 * `ufw show added`: one `ufw <rule> [comment '<text>']` line per user rule. ufw prints a comment as it was
 * given, in single quotes (it refuses comments containing a single quote).
 */
export function parseShowAdded(text: string): AddedRule[] {
  const out: AddedRule[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line.startsWith('ufw ')) continue
    const m = line.slice(4).match(/^(.*?)(?: comment '([^']*)')?$/)
    if (m?.[1]) out.push({ rule: m[1], comment: m[2] })
  }
  return out
}

/** The argv of `ufw` that adds a rule with kvmnet's comment, or deletes exactly that (commented) rule. */
export function ufwArgs(rule: UfwRule, network: string, op: 'add' | 'delete'): string[] {
  const words = rule.split(' ')
  const comment = ['comment', coexistTag(network)]
  if (op === 'add') return [...words, ...comment]
  // `ufw route delete allow ...` and `ufw delete allow ...`.
  return words[0] === 'route' ? ['route', 'delete', ...words.slice(1), ...comment] : ['delete', ...words, ...comment]
}

export async function ufwShowAdded(ns: NetnsRef): Promise<AddedRule[]> {
  return parseShowAdded(await mustRun(ns, 'ufw', ['show', 'added']))
}

/**
 * Add the network's rules that ufw does not have yet; the rules kvmnet now owns (added now, or found with
 * kvmnet's comment from an earlier apply).
 */
export async function ensureUfwRules(ns: NetnsRef, network: string, rules: readonly UfwRule[]): Promise<{ ours: UfwRule[]; added: number }> {
  const have = await ufwShowAdded(ns)
  const ours: UfwRule[] = []
  let added = 0
  for (const rule of rules) {
    const found = have.find((h) => h.rule === rule)
    if (found) {
      // The administrator's own rule (any other comment, or none): it already lets this through.
      if (found.comment === coexistTag(network)) ours.push(rule)
      continue
    }
    await mustRun(ns, 'ufw', ufwArgs(rule, network, 'add'))
    ours.push(rule)
    added++
  }
  return { ours, added }
}

/** Delete the rules that carry kvmnet's comment for the network (given ones, or every such rule ufw lists). */
export async function removeUfwRules(ns: NetnsRef, network: string, rules?: readonly UfwRule[]): Promise<number> {
  const tag = coexistTag(network)
  const have = await ufwShowAdded(ns)
  const mine = have.filter((h) => h.comment === tag && (!rules || rules.includes(h.rule)))
  for (const h of mine) await mustRun(ns, 'ufw', ufwArgs(h.rule, network, 'delete'))
  return mine.length
}
