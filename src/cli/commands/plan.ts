/**
 * `kvmnet plan SPEC.json` (also `up --dry-run`): what `up` would create, change and remove, from the spec
 * and the network's recorded state, touching nothing.
 */
import { bridgeOf, dnsmasqOf, droppedRuntime, firewallOf, forwardKey, kindOf, planFor, validateSpec, vxlanChanges, vxlanOf } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out } from '../output.js'
import { need, networkOptions, readSpec } from './common.js'

export default async function planCommand(a: CliArgs): Promise<number> {
  const spec = validateSpec(await readSpec(need(a, 'SPEC')))
  const o = networkOptions(a)
  const { Netns } = await import('../../netns/index.js')
  const { DEFAULT_STATE_ROOT, readState, stateDirFor, stateLabel } = await import('../../network/index.js')
  const ns = o.netns ? Netns.open(o.netns) : spec.netns ? Netns.open(spec.netns) : Netns.current()
  const root = o.stateRoot ?? DEFAULT_STATE_ROOT
  const prev = await readState(stateDirFor(root, stateLabel(ns), spec.name))
  const planned = kindOf(spec).plan(root)
  const plan = planned.plan
  const changes: { action: 'create' | 'change' | 'remove' | 'keep'; what: string }[] = []
  if (!prev) {
    const bridge = bridgeOf(plan)
    if (bridge) changes.push({ action: 'create', what: `bridge ${bridge}${planned.hostAddresses.length ? ` with ${planned.hostAddresses.join(', ')}` : ''}` })
    for (const p of plan.ports) changes.push({ action: 'create', what: `${p.kind} ${p.name} (guest mac ${p.mac})` })
    changes.push(...vxlanChanges(undefined, vxlanOf(plan), bridge, plan.mtu))
    if (firewallOf(plan)) changes.push({ action: 'create', what: `nft table inet kvmnet_${spec.name}` })
    if (dnsmasqOf(plan)) changes.push({ action: 'create', what: 'dnsmasq' })
    for (const s of plan.sysctls) changes.push({ action: 'create', what: `sysctl ${s.key}=${s.value}` })
  } else {
    const old = planFor(prev.spec, root)
    if (old.mode !== plan.mode) changes.push({ action: 'change', what: `kind ${old.mode} -> ${plan.mode}` })
    if (bridgeOf(old) !== bridgeOf(plan)) changes.push({ action: 'change', what: `bridge ${bridgeOf(old)} -> ${bridgeOf(plan)}` })
    const oldPorts = new Set(old.ports.map((p) => p.name))
    const newPorts = new Set(plan.ports.map((p) => p.name))
    for (const p of plan.ports) if (!oldPorts.has(p.name)) changes.push({ action: 'create', what: `${p.kind} ${p.name} (guest mac ${p.mac})` })
    for (const p of old.ports) if (!newPorts.has(p.name)) changes.push({ action: 'remove', what: `${p.kind} ${p.name}` })
    changes.push(...vxlanChanges(vxlanOf(old), vxlanOf(plan), bridgeOf(plan), plan.mtu))
    const fk = (pl: typeof plan) => new Set((firewallOf(pl)?.forwards ?? []).map((f) => forwardKey(f)))
    const [of, nf] = [fk(old), fk(plan)]
    for (const k of nf) if (!of.has(k)) changes.push({ action: 'create', what: `forward ${k}` })
    for (const k of of) if (!nf.has(k)) changes.push({ action: 'remove', what: `forward ${k}` })
    if (JSON.stringify(dnsmasqOf(old)) !== JSON.stringify(dnsmasqOf(plan))) changes.push({ action: dnsmasqOf(plan) ? (dnsmasqOf(old) ? 'change' : 'create') : 'remove', what: 'dnsmasq' })
    const dropped = prev.runtime ? droppedRuntime(prev.runtime, spec) : []
    if (dropped.length > 0) changes.push({ action: 'remove', what: `added at runtime (needs --prune): ${dropped.join(', ')}` })
    if (changes.length === 0) changes.push({ action: 'keep', what: 'nothing to change' })
  }
  if (a.json) out(JSON.stringify({ network: spec.name, exists: prev !== undefined, changes }, null, 2))
  else for (const c of changes) out(`${c.action === 'create' ? '+' : c.action === 'remove' ? '-' : c.action === 'change' ? '~' : '='} ${c.what}`)
  return 0
}
