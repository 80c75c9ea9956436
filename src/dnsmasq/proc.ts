/**
 * Who a pid really is, read from /proc. A pid alone is not an identity (it is reused), so a process is
 * remembered as pid + start time, and every signal kvmnet sends first re-checks the start time.
 */
import { readFile, readlink, stat } from 'node:fs/promises'
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
    const stat = await readFile(`/proc/${id.pid}/stat`, 'utf8')
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

export async function processFacts(pid: number): Promise<ProcessFacts> {
  const exe = await readlink(`/proc/${pid}/exe`).then(
    (p) => basename(p.replace(/ \(deleted\)$/, '')),
    () => undefined,
  )
  const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (s) => s.split('\0').filter((a) => a !== ''),
    () => [],
  )
  const netns = await stat(`/proc/${pid}/ns/net`).then(
    (s) => `${s.dev}:${s.ino}`,
    () => undefined,
  )
  return { exe, argv, netns }
}

/** "dev:ino" of the namespace file of `ns` (of this process's namespace for the current one). */
export async function netnsId(ns: NetnsRef | undefined): Promise<string> {
  const s = await stat(!ns || ns.isCurrent ? '/proc/self/ns/net' : ns.path)
  return `${s.dev}:${s.ino}`
}
