/**
 * Docker: it sets the filter table's FORWARD policy to DROP (and loads br_netfilter, so even frames bridged
 * between two guests cross FORWARD). An accept in kvmnet's own table cannot help — every base chain on a
 * hook sees the packet and a drop anywhere is final — so kvmnet accepts its bridge in DOCKER-USER, the
 * chain Docker documents for the administrator's rules and never touches itself. FORWARD jumps there
 * first; an ACCEPT there ends the filter table's verdict, and kvmnet's own table still decides what passes.
 * A Docker run with iptables-legacy keeps the same chains in x_tables: the same rules go there, through
 * iptables-legacy.
 */
import type { NetnsRef } from '../netns/index.js'
import { deleteTagged, insertRule, ruleExists, type IptablesBackend } from './iptables.js'
import { coexistTag, type CoexistTarget } from './model.js'

export const DOCKER_USER = 'DOCKER-USER'

/** The rules for a network's bridge, in the order they stand at the head of DOCKER-USER. */
export function dockerRules(target: Pick<CoexistTarget, 'network' | 'bridge' | 'scope'>): string[][] {
  const tail = ['-m', 'comment', '--comment', coexistTag(target.network), '-j', 'ACCEPT']
  const b = target.bridge
  // Frames between two guests cross FORWARD as -i BR -o BR: the first rule covers them either way.
  return target.scope === 'routed' ? [['-i', b, ...tail], ['-o', b, ...tail]] : [['-i', b, '-o', b, ...tail]]
}

/** The fix doctor prints: the same rules, as an administrator would type them. */
export function dockerFixCommands(target: Pick<CoexistTarget, 'network' | 'bridge' | 'scope'>, family: 4 | 6 = 4, backend?: IptablesBackend): string[] {
  const tool = `${family === 4 ? 'iptables' : 'ip6tables'}${backend === 'legacy' ? '-legacy' : ''}`
  return dockerRules(target).map((r) => `${tool} -I ${DOCKER_USER} ${r.slice(0, r.indexOf('-m')).join(' ')} -j ACCEPT`)
}

/** Put the rules at the head of DOCKER-USER where missing; how many were inserted. */
export async function ensureDockerRules(ns: NetnsRef, family: 4 | 6, target: CoexistTarget, backend: IptablesBackend = 'nft'): Promise<number> {
  let added = 0
  const rules = dockerRules(target)
  for (const [i, rule] of rules.entries()) {
    if (await ruleExists(ns, family, DOCKER_USER, rule, backend)) continue
    await insertRule(ns, family, DOCKER_USER, i + 1, rule, backend)
    added++
  }
  return added
}

/** Remove every DOCKER-USER rule tagged with the network (whatever its shape, however many). */
export async function removeDockerRules(ns: NetnsRef, family: 4 | 6, network: string, backend: IptablesBackend = 'nft'): Promise<number> {
  return deleteTagged(ns, family, DOCKER_USER, coexistTag(network), backend)
}

/** Whether each of the network's rules is in DOCKER-USER now (doctor: Docker's drop fixed by kvmnet). */
export async function dockerRulesPresent(ns: NetnsRef, family: 4 | 6, target: CoexistTarget, backend: IptablesBackend = 'nft'): Promise<boolean> {
  for (const rule of dockerRules(target)) if (!(await ruleExists(ns, family, DOCKER_USER, rule, backend))) return false
  return true
}

/** Every place Docker keeps a DOCKER-USER chain: each family, in nftables and in x_tables. */
export function dockerSites(d: { docker?: (4 | 6)[] | undefined; dockerLegacy?: (4 | 6)[] | undefined }): [4 | 6, IptablesBackend][] {
  return [...(d.docker ?? []).map((f): [4 | 6, IptablesBackend] => [f, 'nft']), ...(d.dockerLegacy ?? []).map((f): [4 | 6, IptablesBackend] => [f, 'legacy'])]
}
