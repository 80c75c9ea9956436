/**
 * A lock across processes and across handles in one process: flock(2) on a file, taken without blocking
 * the event loop (one non-blocking attempt, then short waits until the deadline). The kernel drops it
 * when the holder dies, so a crash never leaves a network locked.
 *
 * The file may be removed by its holder (`release({ remove: true })`, when the network it guards is gone):
 * a waiter that then gets the lock on the removed file sees that the path no longer leads to the file it
 * locked, and starts over on the new one — so two holders never think they hold the same path.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs'
import { dirname } from 'node:path'
import { BusyError, StateError } from '../errors.js'
import { native } from '../native/index.js'
import { monotonicMs } from '../util/index.js'

export interface LockHandle {
  readonly path: string
  /** Release the lock; with `remove`, delete the file first (still holding it). */
  release(opts?: { remove?: boolean }): void
}

const FIRST_WAIT_MS = 2
const MAX_WAIT_MS = 50

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Read-write, created if missing, never through a symbolic link (kvmnet runs as root: a planted link would aim its truncate elsewhere). */
const LOCK_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW

function openLockFile(path: string): number {
  let fd: number
  try {
    fd = openSync(path, LOCK_FLAGS, 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new StateError(path, 'is a symbolic link: kvmnet does not follow links in its state directories (remove it)')
    throw err
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd)
    throw new StateError(path, 'is not a regular file: kvmnet does not use it as a lock (remove it)')
  }
  return fd
}

/** The lock's directory, made if missing; a symbolic link there is refused like one at the lock itself. */
function lockDir(path: string): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  if (lstatSync(dir).isSymbolicLink()) throw new StateError(dir, 'is a symbolic link: kvmnet does not follow links in its state directories (remove it)')
}

function holderOf(path: string): { pid: number } | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? { pid } : undefined
  } catch {
    return undefined
  }
}

/** The same file still at `path` (not removed or replaced since it was opened)? */
function stillThere(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd)
    const b = statSync(path)
    return a.ino === b.ino && a.dev === b.dev
  } catch {
    return false
  }
}

/**
 * Take the lock at `path` (created if missing), waiting up to `timeoutMs` (0: one attempt). BusyError
 * naming `what` and the holder's pid when it stays taken.
 */
export async function acquireLock(path: string, opts: { timeoutMs: number; what: string }): Promise<LockHandle> {
  const start = monotonicMs()
  let wait = FIRST_WAIT_MS
  lockDir(path)
  for (;;) {
    // Node opens with O_CLOEXEC: no child (dnsmasq, nft) ever inherits the lock.
    const fd = openLockFile(path)
    let taken = false
    try {
      taken = native.flockTry(fd, true)
      if (taken && stillThere(fd, path)) {
        writeHolder(fd)
        return handle(fd, path)
      }
    } catch (err) {
      closeSync(fd)
      throw err
    }
    closeSync(fd)
    // Taken but removed under us: start over at once on the new file. Not taken: wait, or give up.
    if (taken) continue
    const waited = monotonicMs() - start
    if (waited >= opts.timeoutMs) throw new BusyError(opts.what, holderOf(path), Math.round(waited))
    await sleep(Math.min(wait, Math.max(1, opts.timeoutMs - waited)))
    wait = Math.min(wait * 2, MAX_WAIT_MS)
  }
}

/** The holder's pid, padded so every write is the same length: pids are at most 7 digits (pid_max 2^22). */
const HOLDER_BYTES = 12

/**
 * The holder's pid, written over the previous one in place. Not truncated first: on ext4 (auto_da_alloc)
 * a file truncated to 0 and written again is flushed to disk when it is closed — measured ~3 ms for the
 * truncate and ~3 ms for the close on every lock taken, which was most of the lock's cost. A file longer
 * than one record (never written by kvmnet) is cut to one.
 */
function writeHolder(fd: number): void {
  writeSync(fd, `${process.pid}`.padEnd(HOLDER_BYTES - 1, ' ') + '\n', 0)
  if (fstatSync(fd).size > HOLDER_BYTES) ftruncateSync(fd, HOLDER_BYTES)
}

function handle(fd: number, path: string): LockHandle {
  let held = true
  return {
    path,
    release(opts = {}) {
      if (!held) return
      held = false
      if (opts.remove) {
        try {
          unlinkSync(path)
        } catch (err) {
          // Removed already (gc of a stale lock): what removing it wants.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
      }
      closeSync(fd)
    },
  }
}
