/**
 * Who changed which sysctl of a namespace, and what it was before: one ledger per namespace
 * (`<root>/<namespace label>/sysctls.json`) beside the networks' state directories, written only under its
 * own lock. Networks sharing a key (ip_forward) are its users; the value before goes back when the last
 * user releases it — except the global forwarding switches, which stay on: another manager (libvirt,
 * Docker, a container runtime) may have started relying on them since, and none of them ever turns
 * forwarding off either. One writer per file: a network never writes another network's state.
 */
import { dirname, join } from 'node:path'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { BusyError, StateError } from '../errors.js'
import { acquireLock } from '../lock/index.js'
import { dirEntriesSync } from '../util/index.js'
import { isSysctlKey, openSysctls, writeSysctls } from '../rtnl/index.js'
import type { NetnsRef } from '../netns/index.js'
import { fieldPath, s, type Issue } from '../schema/index.js'
import type { WantedSysctl } from './plan.js'

/** Keys left as they are when their last kvmnet user goes (documented in the README's `down` section). */
export const KEPT_ON_RELEASE: ReadonlySet<string> = new Set(['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding', 'net/ipv6/conf/default/forwarding'])

interface LedgerEntry {
  before: string
  users: string[]
}
type Ledger = Record<string, LedgerEntry>

const entrySchema = s.object({ before: s.string(), users: s.array(s.string()) })

const LOCK_TIMEOUT_MS = 10_000

/** The ledger of the namespace a network's state directory is in. */
function ledgerPaths(stateDir: string): { file: string; lock: string; nsDir: string } {
  const nsDir = dirname(stateDir)
  return { file: join(nsDir, 'sysctls.json'), lock: join(nsDir, 'sysctls.lock'), nsDir }
}

// The ledger is a few hundred bytes under /run: read and written synchronously, as the lock beside it is.
// Each asynchronous file call is a trip through libuv's thread pool and back to the event loop, which on a
// loaded host cost the sysctls step milliseconds per call for microseconds of work.
function readLedger(file: string): Ledger {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new StateError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new StateError(file, `not valid JSON (${(err as Error).message})`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new StateError(file, 'not a kvmnet sysctl ledger')
  const ledger: Ledger = {}
  for (const [key, value] of Object.entries(data)) {
    // Each key is written back under /proc/sys on release: one that is no sysctl (or '__proto__', which
    // the assignment below would take for the ledger's prototype) is a corrupt ledger, found here.
    if (key === '__proto__' || !isSysctlKey(key)) throw new StateError(file, 'not a sysctl key', key)
    const issues: Issue[] = []
    if (!entrySchema.check(value, [key], issues)) {
      const first = issues[0]
      throw new StateError(file, first?.message ?? 'not a kvmnet sysctl ledger', first ? fieldPath(first.path) : undefined)
    }
    ledger[key] = { before: value.before, users: [...value.users] }
  }
  return ledger
}

function writeLedger(file: string, ledger: Ledger): void {
  if (Object.keys(ledger).length === 0) {
    rmSync(file, { force: true })
    return
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(ledger, null, 2))
  renameSync(tmp, file)
}

/** Runs `fn` on the ledger under its lock and writes what it leaves. */
async function withLedger<T>(stateDir: string, fn: (ledger: Ledger, journal: () => void) => Promise<T>): Promise<T> {
  const { file, lock: lockPath, nsDir } = ledgerPaths(stateDir)
  const lock = await acquireLock(lockPath, { timeoutMs: LOCK_TIMEOUT_MS, what: 'the namespace sysctl ledger' })
  let empty = false
  try {
    removeHalfWritten(nsDir)
    const ledger = readLedger(file)
    let written = JSON.stringify(ledger)
    // Writes the ledger as it is now, unless that is what the file holds already.
    const journal = (): void => {
      const now = JSON.stringify(ledger)
      if (now === written) return
      writeLedger(file, ledger)
      written = now
    }
    const r = await fn(ledger, journal)
    // A converge that changes nothing writes nothing; nor does one whose last change was journalled already.
    journal()
    empty = Object.keys(ledger).length === 0
    return r
  } finally {
    lock.release({ remove: empty })
  }
}

/** Users recorded for a key whose network no longer has state (removed by hand): they need nothing. */
function liveUsers(entry: LedgerEntry, nsDir: string): string[] {
  return entry.users.filter((u) => existsSync(join(nsDir, u, 'network.json')))
}

/**
 * Make `network` a user of each wanted key and set it. The value before is recorded before the write: a
 * process killed right after leaves a ledger from which `down` and `gc` put it back. Returns the keys this
 * call wrote (a rollback releases exactly those).
 */
export async function claimSysctls(ns: NetnsRef, stateDir: string, network: string, wanted: readonly WantedSysctl[]): Promise<string[]> {
  if (wanted.length === 0) return []
  // The keys are opened once, with one switch into the namespace, and read again under the lock through
  // the same fds; the writes open theirs with one more: two switches, not one per read and per write.
  const files = openSysctls(ns, wanted.map((w) => w.key))
  try {
    // Already in force and already this network's (a converge that changes nothing): no lock, no write.
    const now = readLedger(ledgerPaths(stateDir).file)
    const current = files.read().map((v) => v.trim())
    if (wanted.every((w, i) => current[i] === w.value && (now[w.key] === undefined || now[w.key]?.users.includes(network)))) return []
    return await withLedger(stateDir, async (ledger, journal) => {
      const change: WantedSysctl[] = []
      const values = files.read()
      for (const [i, w] of wanted.entries()) {
        const now = values[i]!.trim()
        const entry = ledger[w.key]
        if (entry) {
          if (!entry.users.includes(network)) entry.users.push(network)
        } else if (now !== w.value) {
          ledger[w.key] = { before: now, users: [network] }
        }
        if (now !== w.value) change.push(w)
      }
      // Journalled first (every key's value before, in one write of the ledger), then changed in order. A
      // key recorded but not yet written when the process dies is put back to the value it still has.
      journal()
      return writeSysctls(ns, change.map((w) => [w.key, w.value] as const))
    })
  } finally {
    files.close()
  }
}

/**
 * `network` no longer needs `keys` (all its keys when omitted): a key with no user left gets its value
 * before back, unless it is a global forwarding switch (KEPT_ON_RELEASE) and `restoreKept` is false — a
 * rollback of the apply that just turned it on passes true. A per-interface key whose interface is gone
 * has nothing left to restore.
 */
export async function releaseSysctls(ns: NetnsRef, stateDir: string, network: string, opts: { keys?: readonly string[]; restoreKept?: boolean } = {}): Promise<void> {
  const { file, nsDir, lock } = ledgerPaths(stateDir)
  // Nothing claimed in this namespace: no lock file to create (and leave) just to find that out — but one
  // a process killed while it held it left behind goes, once nobody holds it.
  if (!existsSync(file)) return clearStaleLedgerLock(lock, file)
  await withLedger(stateDir, async (ledger) => {
    const restore: [string, string][] = []
    for (const [key, entry] of Object.entries(ledger)) {
      if (opts.keys && !opts.keys.includes(key)) continue
      if (!entry.users.includes(network)) continue
      entry.users = liveUsers(entry, nsDir).filter((u) => u !== network)
      if (entry.users.length > 0) continue
      delete ledger[key]
      if (KEPT_ON_RELEASE.has(key) && !opts.restoreKept) continue
      restore.push([key, entry.before])
    }
    // Opened with one switch into the namespace; a per-interface key went with its interface: nothing to put back.
    writeSysctls(ns, restore, { missingOk: true })
  })
}

async function clearStaleLedgerLock(lockPath: string, file: string): Promise<void> {
  if (!existsSync(lockPath)) return
  let held
  try {
    held = await acquireLock(lockPath, { timeoutMs: 0, what: 'the namespace sysctl ledger' })
  } catch (err) {
    // Someone is claiming right now: the lock is theirs, and so is removing it.
    if (err instanceof BusyError) return
    throw err
  }
  removeHalfWritten(dirname(lockPath))
  held.release({ remove: !existsSync(file) })
}

/** A writer killed between writing the new ledger and renaming it over the old left this; under the lock, nobody is writing. */
function removeHalfWritten(nsDir: string): void {
  for (const name of dirEntriesSync(nsDir)) if (/^sysctls\.json\.\d+\.tmp$/.test(name)) rmSync(join(nsDir, name), { force: true })
}

/** The keys `network` is recorded as a user of (it changed them, or shares a change another made). */
export async function claimedSysctls(stateDir: string, network: string): Promise<string[]> {
  const ledger = readLedger(ledgerPaths(stateDir).file)
  return Object.entries(ledger)
    .filter(([, e]) => e.users.includes(network))
    .map(([key]) => key)
}

/** The ledger's file, for status and tests. */
export function sysctlLedgerFile(stateDir: string): string {
  return ledgerPaths(stateDir).file
}


/**
 * A network whose namespace was deleted: its sysctls went with the namespace, so it is no user of any key
 * any more; the ledger goes with the namespace's last network (nothing is written to a namespace that is
 * gone).
 */
export async function forgetSysctlLedger(stateDir: string, network: string): Promise<void> {
  const { file, nsDir } = ledgerPaths(stateDir)
  if (!existsSync(file)) return clearStaleLedgerLock(ledgerPaths(stateDir).lock, file)
  await withLedger(stateDir, async (ledger) => {
    for (const [key, entry] of Object.entries(ledger)) {
      entry.users = liveUsers(entry, nsDir).filter((u) => u !== network)
      if (entry.users.length === 0) delete ledger[key]
    }
  })
}
