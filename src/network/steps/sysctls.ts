/**
 * Sysctls a network needs in its namespace (ip_forward for the kinds that route, route_localnet for
 * forwards reached via 127.0.0.1). The value before is recorded so `down` can put it back — unless another
 * kvmnet network in the same namespace still needs it. A converge that no longer needs a key puts it back
 * at once.
 */
import { dirname } from 'node:path'
import { readSysctl, writeSysctl } from '../../rtnl/index.js'
import type { Netns } from '../../netns/index.js'
import type { ApplyContext } from '../driver.js'
import type { WantedSysctl } from '../plan.js'
import { listStates, writeState, type NetworkState } from '../state.js'

/** What another network's spec needs: given by the caller (the driver registry), to avoid an import cycle. */
export type SysctlsOfSpec = (spec: NetworkState['spec']) => WantedSysctl[]

export async function ensureSysctls(ctx: ApplyContext, wanted: readonly WantedSysctl[], othersNeed: SysctlsOfSpec): Promise<void> {
  const { ns, state } = ctx
  const released = state.sysctls.filter((r) => !wanted.some((w) => w.key === r.key))
  if (wanted.length === 0 && released.length === 0) return
  await ctx.tx.step('sysctls', 'sysctls', async (s) => {
    let changed = false
    for (const { key, value } of wanted) {
      const before = (await readSysctl(ns, key)).trim()
      if (before === value) continue
      if (!state.sysctls.some((x) => x.key === key)) {
        // Recorded (and journalled) before the write: a crash right after still knows what to put back.
        state.sysctls.push({ key, before })
        await ctx.journal()
      }
      await writeSysctl(ns, key, value)
      s.onUndo(() => writeSysctl(ns, key, before))
      changed = true
    }
    if (released.length > 0) {
      const now = await readSysctlsQuietly(ns, released.map((r) => r.key))
      await restoreSysctls(ns, { ...state, sysctls: released }, ctx.stateDir, othersNeed)
      state.sysctls = state.sysctls.filter((r) => !released.includes(r))
      s.onUndo(async () => {
        for (const [key, value] of now) await writeSysctl(ns, key, value).catch(() => undefined)
      })
      changed = true
    }
    s.outcome(changed ? 'updated' : 'unchanged')
  })
}

async function readSysctlsQuietly(ns: Netns, keys: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const k of keys) {
    const v = await readSysctl(ns, k).catch(() => undefined)
    if (v !== undefined) out.set(k, v.trim())
  }
  return out
}

/** Put back what this network changed, except keys another live network in the namespace also set. */
export async function restoreSysctls(ns: Netns, state: NetworkState, stateDir: string, othersNeed: SysctlsOfSpec): Promise<void> {
  const others = (await listStates(dirname(dirname(stateDir)), undefined)).filter(
    (o) => o.state.name !== state.name && o.state.netnsId === state.netnsId,
  )
  for (const { key, before } of state.sysctls) {
    const heir = others.find((o) => othersNeed(o.state.spec).some((w) => w.key === key))
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
