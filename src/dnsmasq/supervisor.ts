/**
 * One network's dnsmasq, started, watched and stopped from Node.
 *
 * Supervised (default): dnsmasq is a child of this process in its own session (a Ctrl-C at the terminal
 * is for Node to handle, not for dnsmasq), dies with this process (PR_SET_PDEATHSIG via setpriv), and is
 * restarted if it exits on its own: at once the first time, with backoff after that, always on the same
 * lease file so guests keep their addresses.
 *
 * Detached: dnsmasq outlives this process (a CLI's `up`), its stderr goes to a log file in the state dir,
 * and a later process takes it over with Dnsmasq.adopt(), which proves the pid file's pid is that very
 * dnsmasq before it would signal anything.
 *
 * "Ready" is read from the kernel: the sockets dnsmasq must hold (UDP 67; UDP and TCP 53 on the bridge
 * address) are looked up in its own /proc socket tables. No probe query is sent.
 */
import type { ChildProcess } from 'node:child_process'
import { childProcess } from '../util/child-process.js'
import { EventEmitter } from 'node:events'
import { existsSync, openSync, closeSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { DnsmasqError, SpecError } from '../errors.js'
import type { NetnsRef } from '../netns/ref.js'
import { DEFAULT_BACKOFF, restartDelay, type BackoffPolicy } from './backoff.js'
import { dnsmasqCommand } from './command.js'
import { readConfigFiles, removeStateFiles, writeConfigFiles, writeHostsFiles } from './files.js'
import { identifyDnsmasq, readPidFile } from './identify.js'
import { LeaseWatcher } from './lease-watcher.js'
import { isExpired, readLeaseFile, type Lease } from './leases.js'
import { DnsmasqLog, LogFileTail } from './log.js'
import { defaultStateDir, dnsmasqPaths, type DnsmasqPaths } from './paths.js'
import { processStartTime, signalProcess, stopProcess, type ProcessIdentity } from './proc.js'
import { renderConfig, type RenderedConfig } from './render.js'
import { boundSockets, expectedSockets, missingSockets, type BoundSocket } from './sockets.js'
import { validateDnsmasqSpec, type DnsmasqSpec } from './spec.js'

export interface DnsmasqOptions {
  /** Outlive this process (see the class comment). Default false. */
  detached?: boolean
  /** User dnsmasq drops to. Default 'root' when supervised (see RenderOptions.user), 'nobody' when detached. */
  user?: string
  /** How long start() waits for the sockets. Default 10 s. */
  readyTimeoutMs?: number
  /** Grace between SIGTERM and SIGKILL on stop. Default 5 s. */
  stopTimeoutMs?: number
  /** How long reload() waits for dnsmasq to log that it re-read the hosts files. Default 5 s. */
  reloadTimeoutMs?: number
  backoff?: BackoffPolicy
}

export interface ReadyInfo {
  pid: number
  /** From spawn to all sockets bound. */
  ms: number
}

export interface ExitInfo {
  pid: number
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** True for an exit kvmnet asked for (stop, a restart on reload). */
  expected: boolean
}

export interface RestartInfo {
  /** 0 for the first restart in a row. */
  attempt: number
  delayMs: number
  previousPid: number
  pid: number
  exitCode: number | null
  signal: NodeJS.Signals | null
}

export interface DnsmasqEvents {
  ready: [ReadyInfo]
  exit: [ExitInfo]
  restart: [RestartInfo]
  'restart-failed': [{ attempt: number; error: unknown }]
  reload: [{ mode: 'sighup' | 'restart' }]
  /** One line of dnsmasq's own log. */
  log: [string]
  'lease-added': [Lease]
  /** The new lease, then the old one. */
  'lease-changed': [Lease, Lease]
  'lease-expired': [Lease, 'time' | 'removed']
}

type State = 'idle' | 'running' | 'exited' | 'stopped'

/** adopt() builds its handle through the constructor with this key instead of a spec. Not exported. */
const ADOPTED_DIR = Symbol('adoptedDir')
type InternalOptions = DnsmasqOptions & { [ADOPTED_DIR]?: string }

const POLL_MS = 5

export class Dnsmasq extends EventEmitter<DnsmasqEvents> {
  readonly ns: NetnsRef | undefined
  readonly paths: DnsmasqPaths
  readonly detached: boolean
  private specValue: DnsmasqSpec | undefined
  private readonly user: string
  private readonly opts: Required<Omit<DnsmasqOptions, 'user' | 'detached'>>
  private identity: ProcessIdentity | undefined
  private child: ChildProcess | undefined
  private expectingExit = false
  private state: State = 'idle'
  private readonly log = new DnsmasqLog()
  /** Set when dnsmasq's stderr goes to the log file (detached or adopted). */
  private tail: LogFileTail | undefined
  private readonly watcher: LeaseWatcher
  private restartAttempt = 0
  private restartTimer: NodeJS.Timeout | undefined
  private startedAt = 0
  private queue: Promise<unknown> = Promise.resolve()

  /** Validates `spec` (SpecError naming the field) without touching anything. */
  constructor(ns: NetnsRef | undefined, spec: DnsmasqSpec, opts: DnsmasqOptions = {}) {
    super()
    const adoptedDir = (opts as InternalOptions)[ADOPTED_DIR]
    if (adoptedDir === undefined) validateDnsmasqSpec(spec)
    this.ns = ns
    this.specValue = adoptedDir === undefined ? spec : undefined
    this.detached = opts.detached ?? false
    this.user = opts.user ?? (this.detached ? 'nobody' : 'root')
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(this.user)) throw new SpecError('user', `not a user name: ${JSON.stringify(this.user)}`)
    this.opts = {
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
      stopTimeoutMs: opts.stopTimeoutMs ?? 5_000,
      reloadTimeoutMs: opts.reloadTimeoutMs ?? 5_000,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
    }
    this.paths = dnsmasqPaths(adoptedDir ?? spec.stateDir ?? defaultStateDir(ns, spec.network))
    this.watcher = new LeaseWatcher(this.paths.leaseFile)
    this.watcher.on('lease-added', (l) => this.emit('lease-added', l))
    this.watcher.on('lease-changed', (l, old) => this.emit('lease-changed', l, old))
    this.watcher.on('lease-expired', (l, why) => this.emit('lease-expired', l, why))
    // A watch error (the dir vanished under us) must not crash the process; the next start re-arms it.
    this.watcher.on('error', () => undefined)
  }

  /**
   * Take over a dnsmasq started (detached) by another process from `stateDir`. The pid file's process must
   * be dnsmasq, run with this dir's config file, in `ns`; otherwise DnsmasqError and nothing is signalled.
   */
  static async adopt(ns: NetnsRef | undefined, stateDir: string, opts: Omit<DnsmasqOptions, 'detached'> = {}): Promise<Dnsmasq> {
    const paths = dnsmasqPaths(stateDir)
    const identity = await identifyDnsmasq(ns, paths)
    // Keep the user it runs as, so a reload that restarts it does not change its privileges.
    const user = opts.user ?? /^user=(.+)$/m.exec((await readConfigFiles(paths)).conf)?.[1] ?? 'nobody'
    const internal: InternalOptions = { ...opts, user, detached: true, [ADOPTED_DIR]: stateDir }
    const d = new Dnsmasq(ns, undefined as unknown as DnsmasqSpec, internal)
    d.identity = identity
    d.state = 'running'
    d.tail = await LogFileTail.atEnd(paths.logFile)
    await d.watcher.start()
    return d
  }

  get pid(): number | undefined {
    return this.identity?.pid
  }

  get running(): boolean {
    return this.state === 'running' && this.identity !== undefined
  }

  /** The spec in force; undefined for an adopted instance until its first reload(). */
  get spec(): DnsmasqSpec | undefined {
    return this.specValue
  }

  /** Write the config and start dnsmasq; resolves when its sockets are bound. Rolls back on failure. */
  start(): Promise<ReadyInfo> {
    return this.serial(async () => {
      if (this.state === 'running') throw new DnsmasqError({ detail: `already started (pid ${this.pid})` })
      const spec = this.specValue!
      const rendered = renderConfig(spec, this.paths, { user: this.user })
      await this.refuseIfRunning()
      const createdDir = !existsSync(this.paths.dir)
      await writeConfigFiles(this.paths, rendered)
      try {
        const ready = await this.launch()
        this.state = 'running'
        this.restartAttempt = 0
        await this.watcher.start()
        return ready
      } catch (err) {
        if (createdDir) await removeStateFiles(this.paths).catch(() => undefined)
        throw err
      }
    })
  }

  /**
   * Apply a new spec. Only reservations or DNS records changed: the hosts files are rewritten and dnsmasq
   * re-reads them on SIGHUP (no restart, leases and cache untouched); resolves once dnsmasq logged that it
   * read them. Anything else (range, interface, options): restart on the same lease file. False when the
   * spec renders to what is already in force.
   */
  reload(spec: DnsmasqSpec): Promise<boolean> {
    validateDnsmasqSpec(spec)
    const dir = spec.stateDir ?? defaultStateDir(this.ns, spec.network)
    if (dir !== this.paths.dir) throw new SpecError('stateDir', `cannot change on reload (in force: ${this.paths.dir})`)
    return this.serial(async () => {
      if (this.state !== 'running') throw new DnsmasqError({ detail: 'not running: start() it first' })
      const next = renderConfig(spec, this.paths, { user: this.user })
      const current = await readConfigFiles(this.paths)
      if (sameRender(next, current) && this.identity) {
        this.specValue = spec
        return false
      }
      if (next.conf !== current.conf || !this.identity) {
        await this.restartWith(spec, next, current)
        this.emit('reload', { mode: 'restart' })
        return true
      }
      await this.sighup(spec, next)
      this.specValue = spec
      this.emit('reload', { mode: 'sighup' })
      return true
    })
  }

  /** Restart on a new config; if it does not come up, the old config is put back and started again. */
  private async restartWith(spec: DnsmasqSpec, next: RenderedConfig, current: RenderedConfig): Promise<void> {
    const previous = this.specValue
    await this.terminate()
    await writeConfigFiles(this.paths, next)
    this.specValue = spec
    try {
      await this.launch()
    } catch (err) {
      this.specValue = previous
      await writeConfigFiles(this.paths, current)
      // An adopted handle never learnt the old spec: its sockets cannot be checked, so it stays down.
      if (previous) await this.launch().catch(() => undefined)
      throw err
    }
  }

  /** SIGTERM, SIGKILL after the grace time, then remove every file and the state dir. Idempotent. */
  stop(): Promise<void> {
    return this.serial(async () => {
      this.state = 'stopped'
      clearTimeout(this.restartTimer)
      this.watcher.stop()
      if (!this.identity) {
        // Not started by this handle (or already dead): still make sure no dnsmasq of this dir survives.
        this.identity = await identifyDnsmasq(this.ns, this.paths).catch(() => undefined)
      }
      await this.terminate()
      await removeStateFiles(this.paths)
    })
  }

  /** Current leases (expired ones, which dnsmasq drops lazily, left out). */
  async leases(): Promise<Lease[]> {
    const now = Date.now()
    return (await readLeaseFile(this.paths.leaseFile)).filter((l) => !isExpired(l, now))
  }

  /** dnsmasq's last log lines (stderr of a supervised one; the log file's tail of a detached one). */
  recentLog(n = 20): string[] {
    return this.log.recent(n)
  }

  /** Stop watching leases and let go of the process handle; a detached dnsmasq keeps running. */
  close(): void {
    this.watcher.stop()
    clearTimeout(this.restartTimer)
    if (this.child && this.detached) this.child.unref()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async refuseIfRunning(): Promise<void> {
    const pid = await readPidFile(this.paths)
    if (pid === undefined) return
    const running = await identifyDnsmasq(this.ns, this.paths).catch(() => undefined)
    if (running) {
      throw new DnsmasqError({
        detail: `a dnsmasq (pid ${running.pid}) already runs from ${this.paths.dir}`,
        message: `dnsmasq: already running from ${this.paths.dir} (pid ${running.pid}); adopt or stop it first`,
      })
    }
  }

  /** Spawn dnsmasq and wait until it holds its sockets; on failure nothing of it is left running. */
  private async launch(): Promise<ReadyInfo> {
    const cmd = dnsmasqCommand(this.ns, this.paths, { dieWithParent: !this.detached })
    const t0 = performance.now()
    let child: ChildProcess
    if (this.detached) {
      this.tail = await LogFileTail.atEnd(this.paths.logFile)
      const fd = openSync(this.paths.logFile, 'a', 0o644)
      try {
        child = childProcess().spawn(cmd.file, cmd.args, { detached: true, stdio: ['ignore', fd, fd] })
      } finally {
        closeSync(fd)
      }
    } else {
      this.tail = undefined
      child = childProcess().spawn(cmd.file, cmd.args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
      child.stderr!.setEncoding('utf8')
      child.stderr!.on('data', (chunk: string) => this.onLog(chunk))
    }
    const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ exitCode: null, signal: null, error }))
      // 'close' (not 'exit'): dnsmasq's last stderr line has been read by then.
      child.once('close', (exitCode, signal) => resolve({ exitCode, signal }))
    })
    const pid = child.pid
    if (pid === undefined) {
      const r = await exited
      throw new DnsmasqError({ detail: `cannot run ${cmd.file}: ${r.error?.message}`, cause: r.error })
    }
    const spec = this.specValue!
    const want = expectedSockets({ hostAddress: spec.hostAddress, dhcp: spec.dhcp !== undefined, dns: spec.dns !== false })
    const outcome = await this.waitReady(pid, want, exited)
    if (outcome.kind !== 'ready') {
      if (outcome.kind === 'timeout') {
        child.kill('SIGKILL')
        await exited
      }
      await this.pump()
      const exitCode = outcome.kind === 'exited' ? (outcome.exitCode ?? undefined) : undefined
      const detail = outcome.kind === 'timeout' ? `not ready after ${this.opts.readyTimeoutMs} ms (missing ${outcome.missing}); log: ${this.log.detail()}` : this.log.detail()
      throw new DnsmasqError({ exitCode, detail })
    }
    const startTime = await processStartTime(pid)
    // Killed in the moment since it was found ready: its 'exit' has been emitted already (no listener
    // below would ever hear of it, and a handle would stay "running" for a dead pid).
    if (child.exitCode !== null || child.signalCode !== null) {
      await this.pump()
      throw new DnsmasqError({ exitCode: child.exitCode ?? undefined, detail: `exited (${child.signalCode ?? `code ${child.exitCode}`}) as soon as it was ready; log: ${this.log.detail()}` })
    }
    this.identity = { pid, startTime: startTime ?? '' }
    this.child = child
    this.expectingExit = false
    this.startedAt = Date.now()
    child.once('exit', (code, signal) => this.onExit(child, code, signal))
    if (this.detached) child.unref()
    const info = { pid, ms: performance.now() - t0 }
    this.emit('ready', info)
    return info
  }

  private async waitReady(
    pid: number,
    want: BoundSocket[],
    exited: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>,
  ): Promise<{ kind: 'ready' } | { kind: 'exited'; exitCode: number | null } | { kind: 'timeout'; missing: string }> {
    let done: { exitCode: number | null } | undefined
    void exited.then((r) => {
      done = r
    })
    const until = performance.now() + this.opts.readyTimeoutMs
    let missing = want
    for (;;) {
      if (done) return { kind: 'exited', exitCode: done.exitCode }
      const have = await boundSockets(pid).catch(() => [])
      missing = missingSockets(have, want)
      // The pid file too: a later adopt() must find it the moment start() has returned.
      if (missing.length === 0 && (await readPidFile(this.paths).catch(() => undefined)) === pid) return { kind: 'ready' }
      if (performance.now() > until) return { kind: 'timeout', missing: missing.map((s) => `${s.proto} ${s.address}:${s.port}`).join(', ') || 'pid file' }
      await Promise.race([sleep(POLL_MS), exited])
    }
  }

  private onLog(chunk: string): void {
    for (const line of this.log.push(chunk)) this.emit('log', line)
  }

  /** Bring the log file's new lines in (detached/adopted). */
  private async pump(): Promise<void> {
    if (this.tail) this.onLog(await this.tail.read())
  }

  private onExit(child: ChildProcess, exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return
    const pid = this.identity?.pid ?? child.pid ?? 0
    const expected = this.expectingExit
    this.child = undefined
    this.identity = undefined
    this.emit('exit', { pid, exitCode, signal, expected })
    if (expected || this.state !== 'running') return
    if (this.detached) {
      this.state = 'exited'
      return
    }
    if (Date.now() - this.startedAt > this.opts.backoff.healthyAfterMs) this.restartAttempt = 0
    this.scheduleRestart({ previousPid: pid, exitCode, signal })
  }

  private scheduleRestart(why: { previousPid: number; exitCode: number | null; signal: NodeJS.Signals | null }): void {
    const attempt = this.restartAttempt++
    const delayMs = restartDelay(attempt, this.opts.backoff)
    const run = () =>
      this.serial(async () => {
        if (this.state !== 'running' || this.identity) return
        try {
          const { pid } = await this.launch()
          this.emit('restart', { attempt, delayMs, pid, ...why })
        } catch (error) {
          this.emit('restart-failed', { attempt, error })
          this.scheduleRestart(why)
        }
      })
    if (delayMs === 0) void run()
    else this.restartTimer = setTimeout(() => void run(), delayMs)
  }

  /** SIGTERM, then SIGKILL after the grace time; resolves when the process is gone. */
  private async terminate(): Promise<void> {
    const id = this.identity
    if (!id) return
    this.expectingExit = true
    await stopProcess(id, this.opts.stopTimeoutMs)
    // Our own child: let its 'exit' run (with expectingExit set) before the handle is reused.
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r))
    this.identity = undefined
    this.child = undefined
  }

  private async sighup(spec: DnsmasqSpec, next: RenderedConfig): Promise<void> {
    // dnsmasq logs 'read <file>' for each file it re-read; that, not a sleep, says the change is in force.
    const files = [...(spec.dhcp ? [this.paths.hostsFile] : []), ...(spec.dns !== false ? [this.paths.addnHosts] : [])]
    await this.pump()
    const waits = files.map((f) => this.log.waitFor((line) => line.includes(`: read ${f}`)))
    try {
      await writeHostsFiles(this.paths, next)
      if (!(await signalProcess(this.identity!, 'SIGHUP'))) throw new DnsmasqError({ detail: `pid ${this.identity!.pid} is gone` })
      const all = Promise.all(waits.map((w) => w.promise))
      const until = performance.now() + this.opts.reloadTimeoutMs
      let confirmed = false
      void all.then(() => {
        confirmed = true
      })
      while (!confirmed) {
        if (performance.now() > until) {
          throw new DnsmasqError({ detail: `no 'read ${files.join("', 'read ")}' in dnsmasq's log ${this.opts.reloadTimeoutMs} ms after SIGHUP; log: ${this.log.detail()}` })
        }
        await Promise.race([all, sleep(this.tail ? 10 : 50)])
        await this.pump()
      }
    } finally {
      for (const w of waits) w.cancel()
    }
  }
}

function sameRender(a: RenderedConfig, b: RenderedConfig): boolean {
  return a.conf === b.conf && a.hostsFile === b.hostsFile && a.addnHosts === b.addnHosts
}
