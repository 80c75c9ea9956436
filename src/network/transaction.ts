/**
 * Runs an apply as a list of steps, each of which may register how to undo itself. A failure part-way
 * undoes what this run did, newest first; a failure while undoing is reported together with the original
 * error (RollbackError), never swallowed. Every step is timed: the timings are returned and emitted so a
 * benchmark harness needs no wrapping.
 */
import { RollbackError } from '../errors.js'

export type StepCategory = 'validate' | 'links' | 'addresses' | 'routes' | 'sysctls' | 'nft' | 'dnsmasq' | 'state'

export interface StepTiming {
  step: string
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
  private readonly undos: { step: string; undo: Undo }[] = []

  constructor(
    private readonly network: string,
    private readonly phase: 'apply' | 'teardown',
    private readonly emit: (e: StepEvent) => void,
  ) {}

  async step<T>(step: string, category: StepCategory, fn: (ctx: StepContext) => Promise<T> | T): Promise<T> {
    const start = performance.now()
    let outcome: StepOutcome = 'done'
    const ctx: StepContext = {
      onUndo: (undo) => this.undos.push({ step, undo }),
      outcome: (o) => {
        outcome = o
      },
    }
    try {
      return await fn(ctx)
    } catch (err) {
      outcome = 'failed'
      throw err
    } finally {
      const t: StepTiming = { step, category, ms: performance.now() - start, outcome }
      this.timings.push(t)
      this.emit({ ...t, network: this.network, phase: this.phase })
    }
  }

  /** Undo everything registered, newest first; throws RollbackError(cause, errors) if any undo failed, else rethrows cause. */
  async rollback(cause: unknown): Promise<never> {
    const errors: unknown[] = []
    for (const { step, undo } of this.undos.reverse()) {
      const start = performance.now()
      let outcome: StepOutcome = 'undone'
      try {
        await undo()
      } catch (err) {
        outcome = 'failed'
        errors.push(err)
      }
      this.emit({ step, category: 'state', ms: performance.now() - start, outcome, network: this.network, phase: 'rollback' })
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
