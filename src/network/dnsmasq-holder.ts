/**
 * The dnsmasq of a network, as one handle holds it: the supervised child this handle started, or a
 * detached one (another process's, or the CLI's) adopted from the state after its identity checks.
 */
import type { EventEmitter } from 'node:events'
import { DnsmasqError, isNotFound } from '../errors.js'
import { Dnsmasq, type Lease, type RestartInfo } from '../dnsmasq/index.js'
import type { Netns } from '../netns/index.js'
import type { DnsmasqSlot } from './driver.js'
import type { NetworkState } from './state.js'

export class DnsmasqHolder {
  private value: Dnsmasq | undefined

  constructor(
    private readonly ns: Netns,
    private readonly mode: 'supervised' | 'detached',
    /** Called once for every instance that becomes the network's (events wired to the handle). */
    private readonly wire: (d: Dnsmasq) => void,
  ) {}

  get current(): Dnsmasq | undefined {
    return this.value
  }

  /** What a driver's apply or teardown works with. */
  slot(): DnsmasqSlot {
    return {
      mode: this.mode,
      current: (state) => this.handle(state),
      set: (d) => {
        if (d && d !== this.value) this.wire(d)
        this.value = d
      },
    }
  }

  /** The running dnsmasq: this handle's own, or the one the state names, adopted. */
  async handle(state: NetworkState | undefined): Promise<Dnsmasq | undefined> {
    if (this.value) return this.value
    if (!state?.dnsmasq) return undefined
    let adopted: Dnsmasq | undefined
    try {
      adopted = await Dnsmasq.adopt(this.ns, state.dnsmasq.stateDir)
    } catch (err) {
      // No pid file, or it names a process that is not that dnsmasq: none runs to adopt (teardown then
      // looks for a stray one by its config path). Anything else is a real failure.
      if (!isNotFound(err) && !(err instanceof DnsmasqError)) throw err
    }
    if (adopted) this.wire(adopted)
    this.value = adopted
    return adopted
  }

  /**
   * A detached dnsmasq that died is restarted by nobody: forget it, so the next converge starts a new one
   * (a supervised one is restarted through its handle).
   */
  forgetDeadDetached(): void {
    const d = this.value
    if (d?.detached && !d.running) {
      d.close()
      this.value = undefined
    }
  }
}

/** Where a network's dnsmasq events go: the handle's own events, and its watcher for a death. */
export interface DnsmasqEventSink {
  lease(l: Lease): void
  expired(l: Lease, why: 'time' | 'removed'): void
  /** dnsmasq died unexpectedly: a loss like any other, which the watcher repairs (and says so). */
  died(): void
  restarted(info: RestartInfo): void
}

/**
 * `handle`'s lease events are relayed from its first listener for them on (or at once when it has one):
 * dnsmasq watches its lease file only while someone listens (a CNI command never does).
 */
export function relayDnsmasqEvents(d: Dnsmasq, to: DnsmasqEventSink, handle: EventEmitter): void {
  const relayLeases = () => {
    d.on('lease-added', (l: Lease) => to.lease(l))
    d.on('lease-changed', (l: Lease) => to.lease(l))
    d.on('lease-expired', (l: Lease, why: 'time' | 'removed') => to.expired(l, why))
  }
  const wanted = (e: string | symbol) => e === 'lease' || e === 'lease-expired'
  if (handle.eventNames().some(wanted)) relayLeases()
  else {
    const first = (e: string | symbol) => {
      if (!wanted(e)) return
      handle.off('newListener', first)
      relayLeases()
    }
    handle.on('newListener', first)
  }
  d.on('exit', (e) => {
    if (!e.expected) to.died()
  })
  d.on('restart', (info: RestartInfo) => to.restarted(info))
}
