/** What a Network handle is given (options) and gives back (reports, events). */
import type { Netns } from '../netns/index.js'
import type { RestartInfo } from '../dnsmasq/index.js'
import type { CoexistWarning } from '../coexist/index.js'
import type { NftFallbackWarning } from '../nft/index.js'
import type { RepairedEvent, RepairFailedEvent } from '../watch/index.js'
import type { StepCategory, StepEvent, StepName, StepTiming } from '../util/index.js'
import type { PortLease } from './leases.js'
import type { PortAddress } from './port-address.js'
import { monotonicMs } from '../util/index.js'

export interface NetworkOptions {
  /** Namespace to build in; overrides spec.netns. A Netns handle, a name under /run/netns, or a path. */
  netns?: Netns | string
  /** Root of kvmnet's state directories (default /run/kvmnet). */
  stateRoot?: string
  /**
   * 'supervised' (default): dnsmasq is a child of this process, restarted if it dies, and dies with it.
   * 'detached': dnsmasq outlives this process (the CLI's `up`); a later `down` adopts and stops it.
   */
  dnsmasq?: 'supervised' | 'detached'
  /** Called for every step of every apply, teardown and rollback (also emitted as 'step'). */
  onStep?: (e: StepEvent) => void
  /** How long up/down/changes wait for another writer of the same network (default 10 s; 0: fail at once with BusyError). */
  lockTimeoutMs?: number
  /**
   * Self-healing: once `up()` has succeeded, watch the namespace's link, address and nftables change
   * notifications (and dnsmasq's exits), and re-converge the network when something of it is lost — its
   * table flushed or deleted, its bridge or a port deleted, a host address removed, dnsmasq dead —
   * emitting `repaired` for each thing put back. Ends on `down()` or `close()`. Default false.
   */
  watch?: boolean
  /**
   * Test hook: called before each step; throwing from it simulates a failure part-way through an apply.
   * Not for production use.
   */
  faultInjector?: (step: StepName) => void
}

export interface UpOptions {
  /** Remove what was added at runtime (addPort, addForward, addReservation) and the spec lacks; else WouldRemoveError. */
  prune?: boolean
}

/** How one apply goes about it (see ApplyContext). */
export interface ApplyOptions {
  /** Remove ports the plan does not list (default true; adding one port prunes nothing). */
  prunePorts?: boolean
  /** 'signal': reservations reloaded with SIGHUP alone, not waiting for dnsmasq's log (default 'confirm'). */
  dnsmasqReload?: 'confirm' | 'signal'
  /** An edit of reservations, DNS records and forwards: only the steps it changes (converge-edits.ts). */
  edits?: boolean
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000

export interface ApplyReport {
  network: string
  /** Wall time of the whole apply or teardown, ms. */
  totalMs: number
  steps: StepTiming[]
  /** Durations summed per category (links, addresses, routes, sysctls, nft, dnsmasq, state). */
  byCategory: Partial<Record<StepCategory, number>>
}

export interface NetworkEvents {
  step: [StepEvent]
  /** A lease granted or renewed (supervised or adopted dnsmasq). */
  lease: [PortLease]
  /** A lease that ran out, or was released or dropped. */
  'lease-expired': [PortLease, 'time' | 'removed']
  /** A port · address not seen before (addresses.ts); polled once a second while there are listeners. */
  address: [PortAddress]
  'dnsmasq-restart': [RestartInfo]
  /** `watch: true`: something of the network was lost and has been put back. */
  repaired: [RepairedEvent]
  /** `watch: true`: a repair failed (retried a few times, then again at the next loss). */
  'repair-failed': [RepairFailedEvent]
  /**
   * Something in the namespace will still block the network after `up` (a foreign table's drop policy
   * kvmnet does not modify; Docker, ufw or firewalld with firewall.coexist off): said, never fixed behind
   * the administrator's back. `kvmnet doctor` names the same.
   */
  warning: [NetworkWarning]
}

/** A 'warning' event: the network, the object responsible, what it does and the fix. */
export interface NetworkWarning {
  /**
   * A coexistence blocker (see CoexistWarning); dnsmasq's files left its own after a restart; once per
   * handle, 'libnftables-unavailable': the firewall is changed through the nft program.
   */
  code: CoexistWarning['code'] | NftFallbackWarning['code'] | 'dnsmasq-files' | 'address-read'
  network: string
  object: string
  message: string
  fix: string
}

export function report(network: string, start: number, steps: readonly StepTiming[]): ApplyReport {
  const byCategory: Partial<Record<StepCategory, number>> = {}
  for (const s of steps) byCategory[s.category] = (byCategory[s.category] ?? 0) + s.ms
  return { network, totalMs: monotonicMs() - start, steps: [...steps], byCategory }
}
