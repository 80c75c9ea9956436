/**
 * Who a pid really is, read from /proc. A pid alone is not an identity (it is reused), so a process is
 * remembered as pid + start time, and every signal kvmnet sends first re-checks the start time.
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { basename } from 'node:path'
import type { NetnsRef } from '../netns/index.js'
import { monotonicMs } from '../util/index.js'

export interface ProcessIdentity {
  pid: number
  /** Field 22 of /proc/PID/stat: clock ticks after boot when it started. */
  startTime: string
}

export { processStartTime } from '../util/index.js'

/** True while the very process of `id` lives (not a later one with the same pid). Zombies count as gone. */
export async function isAlive(id: ProcessIdentity): Promise<boolean> {
  try {
    // Synchronously, as processStartTime: /proc never waits for a disk (asynchronously, four trips through
    // the thread pool before every signal, each a millisecond or more on a loaded host).
    const stat = readFileSync(`/proc/${id.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] === id.startTime && fields[0] !== 'Z' && fields[0] !== 'X'
  } catch {
    return false
  }
}

/** Send `signal` to `id` unless its pid now belongs to another process; false when it is gone. */
export async function signalProcess(id: ProcessIdentity, signal: NodeJS.Signals): Promise<boolean> {
  if (!(await isAlive(id))) return false
  try {
    process.kill(id.pid, signal)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
}

/** Waits until the process of `id` is gone; false if it is still there after `ms`. */
export async function waitGone(id: ProcessIdentity, ms: number, pollMs = 5): Promise<boolean> {
  const until = monotonicMs() + ms
  while (await isAlive(id)) {
    if (monotonicMs() > until) return false
    await sleep(pollMs)
  }
  return true
}

/**
 * Ends the process of `id`: SIGTERM, and SIGKILL if it is still there after `graceMs`. False when it was
 * already gone (nothing was signalled).
 */
export async function stopProcess(id: ProcessIdentity, graceMs: number): Promise<boolean> {
  if (!(await signalProcess(id, 'SIGTERM'))) return false
  if (!(await waitGone(id, graceMs))) {
    await signalProcess(id, 'SIGKILL')
    await waitGone(id, graceMs)
  }
  return true
}

export interface ProcessFacts {
  /** Basename of /proc/PID/exe, without a ' (deleted)' suffix left by a package upgrade. */
  exe: string | undefined
  argv: string[]
  /** "dev:ino" of /proc/PID/ns/net. */
  netns: string | undefined
}

/**
 * A fact of /proc/PID, or undefined where it cannot be read: a process that is gone or exited meanwhile,
 * or not this user's to look at, has none (the checks then refuse it, as they always did).
 */
function procFact<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

export async function processFacts(pid: number): Promise<ProcessFacts> {
  // Synchronously (see isAlive): every CNI command adopts its network's dnsmasq through these.
  const exe = procFact(() => basename(readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')))
  const argv = procFact(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')) ?? []
  const netns = procFact(() => {
    const st = statSync(`/proc/${pid}/ns/net`)
    return `${st.dev}:${st.ino}`
  })
  return { exe, argv, netns }
}

/** "dev:ino" of the namespace file of `ns` (of this process's namespace for the current one). */
export async function netnsId(ns: NetnsRef | undefined): Promise<string> {
  const s = statSync(!ns || ns.isCurrent ? '/proc/self/ns/net' : ns.path)
  return `${s.dev}:${s.ino}`
}
