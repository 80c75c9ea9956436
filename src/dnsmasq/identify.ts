/**
 * Proof that a pid from a pid file is our dnsmasq before anything is signalled: the executable is dnsmasq,
 * its command line names this state dir's config file, and it lives in the expected namespace. A stale
 * pid file whose pid now belongs to anything else is refused.
 */
import { readFileSync } from 'node:fs'
import { DnsmasqError, NotFoundError, isNotFound } from '../errors.js'
import type { NetnsRef } from '../netns/index.js'
import type { DnsmasqPaths } from './paths.js'
import { netnsId, processFacts, processStartTime, type ProcessIdentity } from './proc.js'

export function confArg(paths: DnsmasqPaths): string {
  return `--conf-file=${paths.conf}`
}

/** Why the process is not our dnsmasq, or undefined when it is. */
export async function mismatch(pid: number, ns: NetnsRef | undefined, paths: DnsmasqPaths): Promise<string | undefined> {
  const facts = await processFacts(pid)
  if (facts.exe === undefined) return `no process ${pid}`
  if (facts.exe !== 'dnsmasq') return `pid ${pid} is ${facts.exe}, not dnsmasq`
  if (!facts.argv.includes(confArg(paths))) return `pid ${pid} is a dnsmasq with another configuration (${facts.argv.join(' ')})`
  if (facts.netns !== (await netnsId(ns))) return `pid ${pid} is a dnsmasq in another network namespace`
  return undefined
}

/** The pid in the pid file, or undefined when there is none. */
export async function readPidFile(paths: DnsmasqPaths): Promise<number | undefined> {
  let text: string
  try {
    // Synchronously: a few bytes, read on every poll of a start (asynchronously four thread-pool trips).
    text = readFileSync(paths.pidFile, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const pid = Number(text.trim())
  return Number.isInteger(pid) && pid > 1 ? pid : undefined
}

/**
 * The identity of the dnsmasq running from `paths`, verified. Throws NotFoundError when there is no pid
 * file, DnsmasqError (signalling nothing) when its pid is not that dnsmasq.
 */
export async function identifyDnsmasq(ns: NetnsRef | undefined, paths: DnsmasqPaths): Promise<ProcessIdentity> {
  const pid = await readPidFile(paths)
  if (pid === undefined) throw new NotFoundError(`dnsmasq pid file ${paths.pidFile}`)
  // Start time first: if the pid is reused between here and the checks, the checks see the new process,
  // and a later signal (which re-checks the start time) will not reach either.
  const startTime = await processStartTime(pid)
  const why = startTime === undefined ? `no process ${pid}` : await mismatch(pid, ns, paths)
  if (why !== undefined || startTime === undefined) {
    throw new DnsmasqError({
      detail: `stale pid file ${paths.pidFile}: ${why}`,
      message: `dnsmasq: refusing to adopt ${paths.dir}: stale pid file (${why})`,
    })
  }
  return { pid, startTime }
}

/**
 * The dnsmasq running from `paths`, or undefined when none does: no pid file, or a pid file naming a
 * process that is not that dnsmasq (stale). Any other failure (a pid file that cannot be read) is thrown.
 */
export async function runningDnsmasq(ns: NetnsRef | undefined, paths: DnsmasqPaths): Promise<ProcessIdentity | undefined> {
  try {
    return await identifyDnsmasq(ns, paths)
  } catch (err) {
    if (isNotFound(err) || err instanceof DnsmasqError) return undefined
    throw err
  }
}
