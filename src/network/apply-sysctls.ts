/**
 * Sysctls a network needs in its namespace: ip_forward for nat networks, and whatever the firewall rules
 * depend on (route_localnet for forwards reached via 127.0.0.1). The value before is recorded so `down`
 * can put it back — unless another kvmnet network in the same namespace still needs it.
 */
import { readSysctl, writeSysctl } from '../rtnl/index.js'
import { requiredSysctls } from '../nft/index.js'
import type { Netns } from '../netns/index.js'
import { listStates, writeState, type NetworkState } from './state.js'
import { planNetwork } from './plan.js'
import type { NetworkPlan } from './plan.js'
import type { Transaction } from './transaction.js'
import { dirname } from 'node:path'

export function wantedSysctls(plan: NetworkPlan): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = []
  if (plan.ipForward) {
    out.push({ key: 'net/ipv4/ip_forward', value: '1' })
    if (plan.subnet6) out.push({ key: 'net/ipv6/conf/all/forwarding', value: '1' })
  }
  if (plan.firewall) out.push(...requiredSysctls(plan.firewall))
  return out
}

export async function applySysctls(ns: Netns, tx: Transaction, plan: NetworkPlan, state: NetworkState): Promise<void> {
  const wanted = wantedSysctls(plan)
  if (wanted.length === 0) return
  await tx.step('sysctls', 'sysctls', async (s) => {
    let changed = false
    for (const { key, value } of wanted) {
      const before = (await readSysctl(ns, key)).trim()
      if (before === value) continue
      await writeSysctl(ns, key, value)
      if (!state.sysctls.some((x) => x.key === key)) state.sysctls.push({ key, before })
      s.onUndo(() => writeSysctl(ns, key, before))
      changed = true
    }
    s.outcome(changed ? 'updated' : 'unchanged')
  })
}

/** Put back what this network changed, except keys another live network in the namespace also set. */
export async function restoreSysctls(ns: Netns, state: NetworkState, stateDir: string): Promise<void> {
  const others = (await listStates(dirname(dirname(stateDir)), undefined)).filter(
    (o) => o.state.name !== state.name && o.state.netnsPath === state.netnsPath,
  )
  for (const { key, before } of state.sysctls) {
    const heir = others.find((o) => wantedSysctls(planNetwork(o.state.spec)).some((w) => w.key === key))
    if (heir) {
      // Still needed: the other network inherits the original value, to restore when it goes down last.
      if (!heir.state.sysctls.some((x) => x.key === key)) {
        heir.state.sysctls.push({ key, before })
        await writeState(heir.dir, heir.state)
      }
      continue
    }
    // Per-interface keys vanish with their interface; nothing to restore then.
    await writeSysctl(ns, key, before).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }
}
