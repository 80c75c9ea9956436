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
import { SerialQueue, monotonicMs } from '../util/index.js'
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { DnsmasqError, SpecError, undoThenThrow } from '../errors.js'
import type { NetnsRef } from '../netns/index.js'
import { DEFAULT_BACKOFF, restartDelay, type BackoffPolicy } from './backoff.js'
import { dnsmasqCommand } from './command.js'
import { readConfFile, readConfigFiles, removeStateFiles, writeConfigFiles, writeHostsFiles } from './files.js'
import { identifyDnsmasq, readPidFile, runningDnsmasq } from './identify.js'
import { failedStart, reloadHostsFiles, spawnDnsmasq, waitReady } from './launch.js'
import { LeaseWatcher } from './lease-watcher.js'
import { isExpired, readLeaseFile, type Lease } from './leases.js'
import { DnsmasqLog, LogFileTail } from './log.js'
import { defaultStateDir, dnsmasqPaths, type DnsmasqPaths } from './paths.js'
import { processStartTime, signalProcess, stopProcess, type ProcessIdentity } from './proc.js'
import { renderConfig, type RenderedConfig } from './render.js'
import { expectedSockets } from './sockets.js'
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
const LEASE_EVENTS: ReadonlySet<string | symbol> = new Set(['lease-added', 'lease-changed', 'lease-expired'])

/** What adopt() builds its handle from instead of a spec: the state dir of a dnsmasq already running. Not exported. */
class AdoptedDir {
  constructor(readonly dir: string) {}
}

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
  private readonly queue = new SerialQueue()

  /** Validates `spec` (SpecError naming the field) without touching anything. */
  constructor(ns: NetnsRef | undefined, spec: DnsmasqSpec | AdoptedDir, opts: DnsmasqOptions = {}) {
    super()
    if (!(spec instanceof AdoptedDir)) validateDnsmasqSpec(spec)
    this.ns = ns
    this.specValue = spec instanceof AdoptedDir ? undefined : spec
    this.detached = opts.detached ?? false
    this.user = opts.user ?? (this.detached ? 'nobody' : 'root')
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(this.user)) throw new SpecError('user', `not a user name: ${JSON.stringify(this.user)}`)
    this.opts = {
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
      stopTimeoutMs: opts.stopTimeoutMs ?? 5_000,
      reloadTimeoutMs: opts.reloadTimeoutMs ?? 5_000,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
    }
    this.paths = dnsmasqPaths(spec instanceof AdoptedDir ? spec.dir : (spec.stateDir ?? defaultStateDir(ns, spec.network)))
    this.watcher = new LeaseWatcher(this.paths.leaseFile)
    this.watcher.on('lease-added', (l) => this.emit('lease-added', l))
    this.watcher.on('lease-changed', (l, old) => this.emit('lease-changed', l, old))
    this.watcher.on('lease-expired', (l, why) => this.emit('lease-expired', l, why))
    // A watch error (the dir vanished under us) must not crash the process; the next start re-arms it.
    this.watcher.on('error', () => undefined)
    // The lease file is watched only for someone listening (a CNI command never does): from their first
    // listener on, or from start/adopt when they were there already.
    EventEmitter.prototype.on.call(this, 'newListener', (event: string | symbol) => {
      if (this.state === 'running' && LEASE_EVENTS.has(event)) this.watcher.start().catch((err: unknown) => this.watcher.emit('error', err))
    })
  }

  private async watchLeasesIfWanted(): Promise<void> {
    if ([...LEASE_EVENTS].some((e) => this.listenerCount(e) > 0)) await this.watcher.start()
  }

  /**
   * Take over a dnsmasq started (detached) by another process from `stateDir`. The pid file's process must
   * be dnsmasq, run with this dir's config file, in `ns`; otherwise DnsmasqError and nothing is signalled.
   */
  static async adopt(ns: NetnsRef | undefined, stateDir: string, opts: Omit<DnsmasqOptions, 'detached'> = {}): Promise<Dnsmasq> {
    const paths = dnsmasqPaths(stateDir)
    const identity = await identifyDnsmasq(ns, paths)
    // Keep the user it runs as, so a reload that restarts it does not change its privileges.
    const user = opts.user ?? /^user=(.+)$/m.exec(readConfFile(paths))?.[1] ?? 'nobody'
    const d = new Dnsmasq(ns, new AdoptedDir(stateDir), { ...opts, user, detached: true })
    d.identity = identity
    d.state = 'running'
    d.tail = await LogFileTail.atEnd(paths.logFile, paths.oldLogFile)
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
        await this.watchLeasesIfWanted()
        return ready
      } catch (err) {
        if (createdDir) await undoThenThrow(err, () => removeStateFiles(this.paths))
        throw err
      }
    })
  }

  /**
   * Apply a new spec. Only reservations or DNS records changed: the hosts files are rewritten and dnsmasq
   * re-reads them on SIGHUP (no restart, leases and cache untouched); resolves once dnsmasq logged that it
   * read them (unless `confirm` is false: see reloadHostsFiles). Anything else (range, interface,
   * options): restart on the same lease file. False when the spec renders to what is already in force.
   */
  reload(spec: DnsmasqSpec, opts: { confirm?: boolean } = {}): Promise<boolean> {
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
      await this.sighup(spec, next, current, opts.confirm !== false)
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
      if (previous) await undoThenThrow(err, () => this.launch())
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
        this.identity = await runningDnsmasq(this.ns, this.paths)
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
    return this.queue.run(fn)
  }

  private async refuseIfRunning(): Promise<void> {
    const pid = await readPidFile(this.paths)
    if (pid === undefined) return
    const running = await runningDnsmasq(this.ns, this.paths)
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
    const t0 = monotonicMs()
    if (this.detached) this.tail = await LogFileTail.atEnd(this.paths.logFile, this.paths.oldLogFile)
    else this.tail = undefined
    const { child, pid, exited } = await spawnDnsmasq(cmd, this.detached ? { logFile: this.paths.logFile } : { onStderr: (chunk) => this.onLog(chunk) })
    const spec = this.specValue!
    const want = expectedSockets({ hostAddress: spec.hostAddress, hostAddress6: spec.ipv6?.hostAddress, dhcp: spec.dhcp !== undefined, dns: spec.dns !== false })
    const outcome = await waitReady(pid, want, exited, this.paths, this.opts.readyTimeoutMs)
    const startTime = outcome.kind === 'ready' ? await processStartTime(pid) : undefined
    await failedStart(child, exited, outcome, { pump: () => this.pump(), log: this.log, readyTimeoutMs: this.opts.readyTimeoutMs })
    this.identity = { pid, startTime: startTime ?? '' }
    this.child = child
    this.expectingExit = false
    this.startedAt = Date.now()
    child.once('exit', (code, signal) => this.onExit(child, code, signal))
    if (this.detached) child.unref()
    const info = { pid, ms: monotonicMs() - t0 }
    this.emit('ready', info)
    return info
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

  private async sighup(spec: DnsmasqSpec, next: RenderedConfig, current: RenderedConfig, confirm: boolean): Promise<void> {
    const files = [...(spec.dhcp ? [this.paths.hostsFile] : []), ...(spec.dns !== false ? [this.paths.addnHosts] : [])]
    if (confirm) await this.pump() // the log read so far: only lines after it confirm (unconfirmed: not read)
    await reloadHostsFiles({
      files,
      log: this.log,
      pump: () => this.pump(),
      pollMs: this.tail ? 10 : 50,
      timeoutMs: this.opts.reloadTimeoutMs,
      confirm,
      write: () => writeHostsFiles(this.paths, next, current),
      signal: async () => {
        if (!(await signalProcess(this.identity!, 'SIGHUP'))) throw new DnsmasqError({ detail: `pid ${this.identity!.pid} is gone` })
      },
    })
  }
}

function sameRender(a: RenderedConfig, b: RenderedConfig): boolean {
  return a.conf === b.conf && a.hostsFile === b.hostsFile && a.addnHosts === b.addnHosts
}
