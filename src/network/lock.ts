/**
 * A network's lock, across processes and handles: `<state dir>.lock`, held for every apply, change,
 * repair and teardown. The handle's watcher is muted meanwhile (its own changes are not losses); with
 * `removeAfter` (down) the lock file goes too, and with it the namespace's directory and the state root
 * when they are left empty.
 */
import { acquireLock } from '../lock/index.js'
import { removeEmptyParents } from './state.js'

export interface LockUse {
  stateDir: string
  network: string
  timeoutMs: number
  removeAfter?: boolean | undefined
  mute(): { unmute(): Promise<void> }
}

export async function withNetworkLock<T>(use: LockUse, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(`${use.stateDir}.lock`, { timeoutMs: use.timeoutMs, what: `network ${use.network}` })
  let ok = false
  const muted = use.mute()
  try {
    const r = await fn()
    ok = true
    return r
  } finally {
    await muted.unmute()
    lock.release({ remove: ok && use.removeAfter === true })
    // rmdir only removes empty ones: another network's directory keeps them.
    if (ok && use.removeAfter) await removeEmptyParents(use.stateDir)
  }
}
