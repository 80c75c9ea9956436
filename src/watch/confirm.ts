/**
 * Which losses a re-converge actually repaired, read from what its steps did: a loss whose part of the
 * apply changed nothing was not lost after all (put back in the meantime, or replaced by another writer),
 * and is not reported. The converge itself compared the kernel with the plan; this only reads its report.
 */
import { stepLabel, type StepName, type StepTiming } from '../util/index.js'
import type { Loss, LossKind } from './losses.js'

const CHANGED = new Set(['done', 'created', 'updated', 'repaired', 'removed'])

const BRIDGE_STEPS: ReadonlySet<StepName> = new Set(['bridge', 'bridge-up', 'bridge-alias'])
const PORT_STEPS: ReadonlySet<StepName> = new Set(['ports', 'reattach-ports', 'tag-ports'])
const HOST_LINK_STEPS: ReadonlySet<StepName> = new Set(['host-macvlan', 'host-macvlan-alias', 'host-macvlan-up'])
const BANDWIDTH_STEPS: ReadonlySet<StepName> = new Set(['ifbs', 'bandwidth'])

/** Steps whose changing means the kind of loss was repaired. */
function repairs(kind: Exclude<LossKind, 'dnsmasq'>, s: StepTiming): boolean {
  switch (kind) {
    case 'nft':
      return s.category === 'nft'
    case 'bridge':
      return BRIDGE_STEPS.has(s.step)
    case 'port':
      return PORT_STEPS.has(s.step)
    case 'link':
      return HOST_LINK_STEPS.has(s.step)
    case 'address':
      return s.category === 'addresses'
    case 'bandwidth':
      return BANDWIDTH_STEPS.has(s.step)
    case 'unknown':
      return true
  }
}

/**
 * The losses the apply repaired. `dnsmasqRunning`: whether the network's dnsmasq runs now (restarted by
 * the converge, or by its supervisor while the converge waited for it).
 */
export function confirmedRepairs<L extends Loss>(losses: readonly L[], steps: readonly StepTiming[], dnsmasqRunning: boolean): L[] {
  const changed = steps.filter((s) => CHANGED.has(s.outcome) && s.category !== 'state')
  return losses.filter((l) => (l.kind === 'dnsmasq' ? dnsmasqRunning : changed.some((s) => repairs(l.kind as Exclude<LossKind, 'dnsmasq'>, s))))
}

/** For a repair after lost notifications (nothing specific known): what the changed steps were about. */
export function lossesFromSteps(steps: readonly StepTiming[], names: { table?: string | undefined; bridge?: string | undefined }): Loss[] {
  const out: Loss[] = []
  for (const s of steps) {
    if (!CHANGED.has(s.outcome) || s.category === 'state') continue
    if (s.category === 'nft') out.push({ kind: 'nft', what: names.table ? `nft table ${names.table}` : 'nft table' })
    else if (s.step === 'bridge' || s.step === 'bridge-up') out.push({ kind: 'bridge', what: `bridge ${names.bridge ?? ''}`.trim() })
    else if (s.category === 'addresses') out.push({ kind: 'address', what: `addresses${names.bridge ? ` on ${names.bridge}` : ''}` })
    else if (PORT_STEPS.has(s.step)) out.push({ kind: 'port', what: stepLabel(s) })
    else if (BANDWIDTH_STEPS.has(s.step)) out.push({ kind: 'bandwidth', what: 'bandwidth' })
    else if (s.category === 'dnsmasq') out.push({ kind: 'dnsmasq', what: 'dnsmasq' })
    else out.push({ kind: 'unknown', what: stepLabel(s) })
  }
  return out.filter((l, i) => out.findIndex((m) => m.what === l.what) === i)
}
