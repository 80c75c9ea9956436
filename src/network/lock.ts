/**
 * A network's lock, across processes and handles: `<state dir>.lock`, held for every apply, change,
 * repair and teardown. The handle's watcher is muted meanwhile (its own changes are not losses); with
 * `removeAfter` (down) the lock file goes too, and with it the namespace's directory and the state root
 * when they are left empty. Each is an operation to the idle trim (native/idle-trim.ts): glibc's freed
 * pages are given back only once none has run for a while.
 */
import { existsSync } from 'node:fs'
import { acquireLock } from '../lock/index.js'
import { asOperation } from '../native/index.js'
import { removeEmptyParents } from './state.js'

export interface LockUse {
  stateDir: string
  network: string
  timeoutMs: number
  removeAfter?: boolean | undefined
  mute(): { unmute(): Promise<void> }
}

export function withNetworkLock<T>(use: LockUse, fn: () => Promise<T>): Promise<T> {
  return asOperation(() => locked(use, fn))
}

async function locked<T>(use: LockUse, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(`${use.stateDir}.lock`, { timeoutMs: use.timeoutMs, what: `network ${use.network}` })
  let ok = false
  const muted = use.mute()
  try {
    const r = await fn()
    ok = true
    return r
  } finally {
    await muted.unmute()
    // After a down, and after a refusal that recorded nothing (a first up refused before its journal),
    // the lock file goes too: a refused `up` leaves nothing under the state root.
    const remove = ok ? use.removeAfter === true : !existsSync(use.stateDir)
    lock.release({ remove })
    // rmdir only removes empty ones: another network's directory keeps them.
    if (remove) await removeEmptyParents(use.stateDir)
  }
}
