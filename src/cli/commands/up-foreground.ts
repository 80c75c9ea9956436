/**
 * What `up --foreground` does with signals, from the moment it starts until the network is down:
 *
 * - SIGINT/SIGTERM: take the network down and end. One that arrives while the network is still being
 *   built is kept (the apply finishes or rolls back first); the watcher's repair under way ends first
 *   (it holds the network's lock); another writer's lock is waited for, however long, with one line on
 *   stderr; further signals during all that are answered with a line and change nothing — the teardown
 *   runs to its end, so no signal leaves a half-torn network.
 * - SIGHUP: read the spec file again and converge to it (one line: reloaded, or why not); the network
 *   stays as it was when the file does not validate or the converge fails (the converge rolls back).
 *
 * The handlers are installed for the whole life of the command and never removed, only made inert once
 * the network is down (dispose): a signal never falls back to its default action (death without
 * teardown, or by the signal after it).
 */
import { BusyError } from '../../errors.js'
import type { Network } from '../../network/index.js'
import { validateSpec } from '../../network/index.js'
import { ms, out } from '../output.js'
import { readSpec } from './common.js'

export type StopSignal = 'SIGINT' | 'SIGTERM'

/** The handler left once the work is done: the process is ending by itself. */
const ending = (): void => {}

/** How long one attempt to take the lock for the teardown waits before saying so and trying again. */
const LOCK_ATTEMPT_MS = 1000

export class ForegroundSignals {
  private stopWith: StopSignal | undefined
  private wake: ((sig: StopSignal) => void) | undefined
  private readonly stopped: Promise<StopSignal>
  private reloadWanted = false
  private reloads: Promise<void> = Promise.resolve()
  private live = false
  private readonly onStop = (sig: StopSignal) => this.stop(sig)
  private readonly onHup = () => this.hup()

  constructor(
    private readonly net: Network,
    private readonly specPath: string,
    private readonly opts: { json: boolean; prune: boolean },
  ) {
    this.stopped = new Promise((resolve) => (this.wake = resolve))
    process.on('SIGINT', this.onStop)
    process.on('SIGTERM', this.onStop)
    process.on('SIGHUP', this.onHup)
  }

  /** The network is up: reloads asked for while it was being built run now. */
  running(): void {
    this.live = true
    if (this.reloadWanted) this.hup()
  }

  /** Supervises until SIGINT/SIGTERM (at once if one came during the build), then takes the network down. */
  async untilStopped(): Promise<void> {
    // Only signal handlers and the network's sockets would be left; this keeps the loop alive regardless.
    const keepAlive = setInterval(() => {}, 1 << 30)
    let sig: StopSignal
    try {
      sig = await this.stopped
    } finally {
      clearInterval(keepAlive)
    }
    this.live = false
    // A reload under way finishes (or rolls back) first: it holds the lock.
    await this.reloads
    const d = await this.downWaitingForLock()
    if (!this.opts.json) out(`${this.net.name}: down (${sig}) in ${ms(d.totalMs)}`)
  }

  /**
   * Called once the network is down, or the build failed: from then on a signal changes nothing. The
   * handlers are replaced, not removed: the process can live on some ms after its work is done (the link
   * delete's ack, which comes after the kernel's RCU barrier, is still awaited by a pool thread), and with
   * no handler a signal then takes its default action, ending the process by the signal instead of its
   * exit code. Signal handlers do not keep the event loop alive.
   */
  dispose(): void {
    process.off('SIGINT', this.onStop)
    process.off('SIGTERM', this.onStop)
    process.off('SIGHUP', this.onHup)
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, ending)
  }

  private stop(sig: StopSignal): void {
    if (this.stopWith) {
      process.stderr.write(`kvmnet: ${this.net.name}: ${sig}: already taking the network down (after ${this.stopWith}); it ends when that is done\n`)
      return
    }
    this.stopWith = sig
    this.wake?.(sig)
  }

  private hup(): void {
    if (this.stopWith) return
    if (!this.live) {
      this.reloadWanted = true
      return
    }
    this.reloadWanted = false
    this.reloads = this.reloads.then(() => this.reload())
  }

  /** Never rejects: a failed reload is reported and the network is left as the converge left it. */
  private async reload(): Promise<void> {
    if (this.stopWith) return
    try {
      const spec = validateSpec(await readSpec(this.specPath))
      const r = await this.net.up(spec, { prune: this.opts.prune })
      out(this.opts.json ? JSON.stringify({ event: 'reloaded', network: this.net.name, ms: r.totalMs }) : `${this.net.name}: reloaded ${this.specPath} in ${ms(r.totalMs)}`)
    } catch (err) {
      process.stderr.write(`kvmnet: ${this.net.name}: reload failed: ${err instanceof Error ? err.message : String(err)}\n`)
    }
  }

  private async downWaitingForLock(): ReturnType<Network['down']> {
    let said = false
    for (;;) {
      try {
        return await this.net.down({ lockTimeoutMs: LOCK_ATTEMPT_MS })
      } catch (err) {
        if (!(err instanceof BusyError)) throw err
        if (!said) {
          said = true
          process.stderr.write(`kvmnet: ${this.net.name}: waiting for the network's lock${err.holder ? ` (held by pid ${err.holder.pid})` : ''} to take it down\n`)
        }
      }
    }
  }
}
