/**
 * Sysctls a network needs in its namespace (ip_forward for the kinds that route, route_localnet for
 * forwards reached via 127.0.0.1, accept_ra=2 on an RA-configured uplink). What they were before is in the
 * namespace's sysctl ledger (sysctl-ledger.ts), shared by the networks of the namespace: the last network
 * needing a key puts it back. A converge that no longer needs a key releases it at once.
 */
import type { ApplyContext } from '../driver.js'
import type { WantedSysctl } from '../plan.js'
import { claimedSysctls, claimSysctls, releaseSysctls } from '../sysctl-ledger.js'

export async function ensureSysctls(ctx: ApplyContext, wanted: readonly WantedSysctl[]): Promise<void> {
  const { ns, state, stateDir } = ctx
  const claimed = await claimedSysctls(stateDir, state.name)
  const released = claimed.filter((key) => !wanted.some((w) => w.key === key))
  if (wanted.length === 0 && released.length === 0) return
  await ctx.tx.step('sysctls', 'sysctls', async (s) => {
    const written = await claimSysctls(ns, stateDir, state.name, wanted)
    // A failed apply puts back what it changed, forwarding included: nobody can have relied on it yet.
    if (written.length > 0) s.onUndo(() => releaseSysctls(ns, stateDir, state.name, { keys: written, restoreKept: true }))
    if (released.length > 0) await releaseSysctls(ns, stateDir, state.name, { keys: released })
    s.outcome(written.length > 0 || released.length > 0 ? 'updated' : 'unchanged')
  })
}
