/**
 * Starting a dnsmasq process and knowing when it serves: it is ready when it holds every socket its
 * config asks for and its pid file names it (a later adopt() must find it the moment start() returned);
 * it failed when it exits first or the time runs out.
 */
import type { ChildProcess } from 'node:child_process'
import { closeSync, constants, openSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { DnsmasqError, ignoreNotFound } from '../errors.js'
import { childProcess, monotonicMs } from '../util/index.js'
import type { DnsmasqPaths } from './paths.js'
import { readPidFile } from './identify.js'
import type { DnsmasqLog } from './log.js'
import { boundSockets, missingSockets, type BoundSocket } from './sockets.js'

const POLL_MS = 5

export type Exited = Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; error?: Error }>

/**
 * Spawn dnsmasq in its own process group. Detached: its output goes to the log file (it outlives this
 * process, so no pipe may tie it to us); supervised: stderr is piped to `onStderr`.
 */
export async function spawnDnsmasq(cmd: { file: string; args: string[] }, out: { logFile: string } | { onStderr: (chunk: string) => void }): Promise<{ child: ChildProcess; pid: number; exited: Exited }> {
  let child: ChildProcess
  if ('logFile' in out) {
    // Never through a link: kvmnet is root here, and the log is appended to.
    const fd = openSync(out.logFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644)
    try {
      child = childProcess().spawn(cmd.file, cmd.args, { detached: true, stdio: ['ignore', fd, fd] })
    } finally {
      closeSync(fd)
    }
  } else {
    child = childProcess().spawn(cmd.file, cmd.args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', out.onStderr)
  }
  const exited: Exited = new Promise((resolve) => {
    child.once('error', (error) => resolve({ exitCode: null, signal: null, error }))
    // 'close' (not 'exit'): dnsmasq's last stderr line has been read by then.
    child.once('close', (exitCode, signal) => resolve({ exitCode, signal }))
  })
  const pid = child.pid
  if (pid === undefined) {
    const r = await exited
    throw new DnsmasqError({ detail: `cannot run ${cmd.file}: ${r.error?.message}`, cause: r.error })
  }
  return { child, pid, exited }
}

export type ReadyOutcome = { kind: 'ready' } | { kind: 'exited'; exitCode: number | null } | { kind: 'timeout'; missing: string }

/**
 * Throws the DnsmasqError of a start that did not come up: it exited first, timed out (then it is killed),
 * or was killed in the moment since it was found ready — its 'exit' was emitted already, so no listener
 * would ever hear of it and a handle would stay "running" for a dead pid. Returns when it is up.
 */
export async function failedStart(child: ChildProcess, exited: Exited, outcome: ReadyOutcome, log: { pump(): Promise<void>; log: DnsmasqLog; readyTimeoutMs: number }): Promise<void> {
  if (outcome.kind === 'ready' && child.exitCode === null && child.signalCode === null) return
  if (outcome.kind === 'timeout') {
    child.kill('SIGKILL')
    await exited
  }
  await log.pump()
  if (outcome.kind === 'ready') {
    throw new DnsmasqError({ exitCode: child.exitCode ?? undefined, detail: `exited (${child.signalCode ?? `code ${child.exitCode}`}) as soon as it was ready; log: ${log.log.detail()}` })
  }
  const exitCode = outcome.kind === 'exited' ? (outcome.exitCode ?? undefined) : undefined
  const detail = outcome.kind === 'timeout' ? `not ready after ${log.readyTimeoutMs} ms (missing ${outcome.missing}); log: ${log.log.detail()}` : log.log.detail()
  throw new DnsmasqError({ exitCode, detail })
}

export async function waitReady(pid: number, want: BoundSocket[], exited: Exited, paths: DnsmasqPaths, timeoutMs: number): Promise<ReadyOutcome> {
  let done: { exitCode: number | null } | undefined
  void exited.then((r) => {
    done = r
  })
  const until = monotonicMs() + timeoutMs
  let missing = want
  for (;;) {
    if (done) return { kind: 'exited', exitCode: done.exitCode }
    // A process that exited between two polls has no /proc entry: the next round sees it exited.
    const have = (await boundSockets(pid).catch(ignoreNotFound)) ?? []
    missing = missingSockets(have, want)
    if (missing.length === 0 && (await readPidFile(paths)) === pid) return { kind: 'ready' }
    if (monotonicMs() > until) return { kind: 'timeout', missing: missing.map((s) => `${s.proto} ${s.address}:${s.port}`).join(', ') || 'pid file' }
    await Promise.race([sleep(POLL_MS), exited])
  }
}

/**
 * A reload of reservations and DNS records without a restart: the hosts files rewritten, SIGHUP, and
 * dnsmasq's own 'read <file>' log line for each file — not a sleep — says the change is in force. With
 * `confirm` false the files are written and the signal sent, and nobody waits for the log: for a change no
 * client will ask dnsmasq about right away (a reservation for a container that configures its address
 * itself), whose files dnsmasq re-reads whole on the signal it got.
 */
export async function reloadHostsFiles(r: {
  files: string[]
  log: DnsmasqLog
  pump(): Promise<void>
  pollMs: number
  timeoutMs: number
  write(): Promise<void>
  signal(): Promise<void>
  confirm: boolean
}): Promise<void> {
  if (!r.confirm) {
    await r.write()
    return r.signal()
  }
  const waits = r.files.map((f) => r.log.waitFor((line) => line.includes(`: read ${f}`)))
  try {
    await r.write()
    await r.signal()
    const all = Promise.all(waits.map((w) => w.promise))
    const until = monotonicMs() + r.timeoutMs
    let confirmed = false
    void all.then(() => {
      confirmed = true
    })
    while (!confirmed) {
      if (monotonicMs() > until) {
        throw new DnsmasqError({ detail: `no 'read ${r.files.join("', 'read ")}' in dnsmasq's log ${r.timeoutMs} ms after SIGHUP; log: ${r.log.detail()}` })
      }
      await Promise.race([all, sleep(r.pollMs)])
      await r.pump()
    }
  } finally {
    for (const w of waits) w.cancel()
  }
}
