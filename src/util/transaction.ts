/**
 * Runs an apply as a list of steps, each of which may register how to undo itself. A failure part-way
 * undoes what this run did, newest first; a failure while undoing is reported together with the original
 * error (RollbackError), never swallowed. Every step is timed: the timings are returned and emitted so a
 * benchmark harness needs no wrapping.
 */
import { RollbackError } from '../errors.js'
import { monotonicMs } from './clock.js'

export type StepCategory = 'validate' | 'links' | 'addresses' | 'routes' | 'sysctls' | 'nft' | 'dnsmasq' | 'state'

/** Every step an apply or teardown runs, by name: what a watcher or a harness matches on. */
export type StepName =
  | 'journal'
  | 'learn'
  | 'learn-remove'
  | 'state'
  | 'links'
  | 'bridge'
  | 'bridge-alias'
  | 'bridge-mtu'
  | 'bridge-up'
  | 'bridge-ipv6'
  | 'bridge-no-ipv6'
  | 'remove-old-bridge'
  | 'addresses'
  | 'sysctls'
  | 'nft'
  | 'nft-remove'
  | 'coexist'
  | 'dnsmasq'
  | 'dnsmasq-stop'
  | 'ports'
  | 'reattach-ports'
  | 'remove-ports'
  | 'tag-ports'
  | 'unaddress-ports'
  | 'ifbs'
  | 'remove-ifbs'
  | 'bandwidth'
  | 'host-macvlan'
  | 'host-macvlan-alias'
  | 'host-macvlan-up'
  | 'move-nic'
  | 'restore-nic'
  | 'vxlan'
  | 'vxlan-attach'
  | 'vxlan-remove'
  | 'vxlan-replace'
  | 'vxlan-peers'

/** A step as it is named and counted: `{ name: 'ports', detail: '12' }`. */
export interface StepId {
  name: StepName
  /** What the step worked on, when it varies: a count of ports, `+1 -0` peers. */
  detail?: string | undefined
}

/** How a step reads in tables and progress lines: `ports(12)`, `vxlan-peers(+1 -0)`, `nft`. */
export function stepLabel(s: { step: StepName; detail?: string | undefined }): string {
  return s.detail === undefined ? s.step : `${s.step}(${s.detail})`
}

export interface StepTiming {
  step: StepName
  /** See StepId.detail. */
  detail?: string | undefined
  category: StepCategory
  ms: number
  /** What the step did. */
  outcome: StepOutcome
}

export type StepOutcome = 'done' | 'created' | 'unchanged' | 'updated' | 'repaired' | 'removed' | 'skipped' | 'failed' | 'undone'

export interface StepEvent extends StepTiming {
  network: string
  phase: 'apply' | 'teardown' | 'rollback'
}

export type Undo = () => Promise<void> | void

export interface StepContext {
  /** Register how to undo what this step changed; run in reverse order on a later failure. */
  onUndo(undo: Undo): void
  /** Override the default 'done' outcome in the timing. */
  outcome(o: StepOutcome): void
}

export class Transaction {
  readonly timings: StepTiming[] = []
  private readonly undos: { step: StepName; detail: string | undefined; undo: Undo }[] = []

  constructor(
    private readonly network: string,
    private readonly phase: 'apply' | 'teardown',
    private readonly emit: (e: StepEvent) => void,
    /** Called before each step runs; throwing from it fails that step (the fault-injection test hook). */
    private readonly before?: (step: StepName) => void,
  ) {}

  async step<T>(id: StepName | StepId, category: StepCategory, fn: (ctx: StepContext) => Promise<T> | T): Promise<T> {
    const { name: step, detail } = typeof id === 'string' ? { name: id, detail: undefined } : id
    const start = monotonicMs()
    let outcome: StepOutcome = 'done'
    const ctx: StepContext = {
      onUndo: (undo) => this.undos.push({ step, detail, undo }),
      outcome: (o) => {
        outcome = o
      },
    }
    try {
      this.before?.(step)
      return await fn(ctx)
    } catch (err) {
      outcome = 'failed'
      throw err
    } finally {
      const t: StepTiming = { step, ...(detail === undefined ? {} : { detail }), category, ms: monotonicMs() - start, outcome }
      this.timings.push(t)
      this.emit({ ...t, network: this.network, phase: this.phase })
    }
  }

  /** Undo everything registered, newest first; throws RollbackError(cause, errors) if any undo failed, else rethrows cause. */
  async rollback(cause: unknown): Promise<never> {
    const errors: unknown[] = []
    for (const { step, detail, undo } of this.undos.reverse()) {
      const start = monotonicMs()
      let outcome: StepOutcome = 'undone'
      try {
        await undo()
      } catch (err) {
        outcome = 'failed'
        errors.push(err)
      }
      this.emit({ step, ...(detail === undefined ? {} : { detail }), category: 'state', ms: monotonicMs() - start, outcome, network: this.network, phase: 'rollback' })
    }
    this.undos.length = 0
    if (errors.length > 0) throw new RollbackError(cause, errors)
    throw cause
  }

  /** Forget the undo log once the apply is complete. */
  commit(): void {
    this.undos.length = 0
  }
}
