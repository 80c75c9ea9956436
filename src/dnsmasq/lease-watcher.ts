/**
 * Lease events from the lease file. dnsmasq rewrites the file on every grant, renewal and release, so an
 * inotify watch on its directory (the file itself is replaced on some paths) plus a short debounce sees
 * every change without a --dhcp-script. Leases that run out without dnsmasq touching the file are caught
 * by a timer set to the next expiry.
 */
import { EventEmitter } from 'node:events'
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { isExpired, readLeaseFile, sameLease, type Lease } from './leases.js'

export interface LeaseWatcherEvents {
  'lease-added': [Lease]
  'lease-changed': [Lease, Lease]
  /** Expired by time, or removed from the file (released, or dropped by dnsmasq). */
  'lease-expired': [Lease, 'time' | 'removed']
  error: [unknown]
}

const DEBOUNCE_MS = 15
// setTimeout's ceiling; a longer wait is simply re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1

export class LeaseWatcher extends EventEmitter<LeaseWatcherEvents> {
  /** Live (unexpired) leases by IP, as last reported. */
  private known = new Map<string, Lease>()
  private fsWatcher: FSWatcher | undefined
  private debounce: NodeJS.Timeout | undefined
  private expiryTimer: NodeJS.Timeout | undefined
  private refreshing: Promise<void> = Promise.resolve()
  private starting: Promise<void> | undefined
  /** Bumped by stop(): a start still reading the file then watches nothing. */
  private generation = 0

  constructor(private readonly file: string) {
    super()
  }

  /** Take the current file as the baseline (no events for it) and start watching; once, however often called. */
  start(): Promise<void> {
    this.starting ??= this.begin().catch((err: unknown) => {
      this.starting = undefined
      throw err
    })
    return this.starting
  }

  private async begin(): Promise<void> {
    const generation = this.generation
    const known = new Map((await readLeaseFile(this.file)).filter((l) => !isExpired(l)).map((l) => [l.ip, l]))
    if (generation !== this.generation) return
    this.known = known
    // persistent: false — watching leases must never be what keeps a CLI process alive.
    this.fsWatcher = watch(dirname(this.file), { persistent: false }, (_type, name) => {
      if (name === null || name === basename(this.file)) this.schedule()
    })
    this.fsWatcher.on('error', (err) => this.emit('error', err))
    this.armExpiry()
  }

  stop(): void {
    this.starting = undefined
    this.generation++
    this.fsWatcher?.close()
    this.fsWatcher = undefined
    clearTimeout(this.debounce)
    clearTimeout(this.expiryTimer)
  }

  /** Re-read now (also what the watch triggers); resolves once events for the current file are emitted. */
  refresh(): Promise<void> {
    this.refreshing = this.refreshing.then(() => this.diff()).catch((err) => {
      this.emit('error', err)
    })
    return this.refreshing
  }

  private schedule(): void {
    clearTimeout(this.debounce)
    this.debounce = setTimeout(() => void this.refresh(), DEBOUNCE_MS)
    this.debounce.unref()
  }

  private async diff(): Promise<void> {
    const now = Date.now()
    const current = new Map<string, Lease>()
    for (const l of await readLeaseFile(this.file)) if (!isExpired(l, now)) current.set(l.ip, l)
    const previous = this.known
    this.known = current
    for (const [ip, old] of previous) {
      if (!current.has(ip)) this.emit('lease-expired', old, isExpired(old, now) ? 'time' : 'removed')
    }
    for (const [ip, l] of current) {
      const old = previous.get(ip)
      if (!old) this.emit('lease-added', l)
      else if (!sameLease(old, l)) this.emit('lease-changed', l, old)
    }
    this.armExpiry()
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer)
    if (!this.fsWatcher) return
    let next = Infinity
    for (const l of this.known.values()) if (l.expiresAt) next = Math.min(next, l.expiresAt.getTime())
    if (next === Infinity) return
    this.expiryTimer = setTimeout(() => void this.refresh(), Math.min(Math.max(0, next - Date.now()) + 5, MAX_TIMER_MS))
    this.expiryTimer.unref()
  }
}
