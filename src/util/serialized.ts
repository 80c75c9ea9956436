/**
 * One call at a time, in order: a run starts only after the previous one settled (concurrent journal
 * writes must not interleave in the same file; a dnsmasq start must not overlap its stop). Each caller
 * gets its own run's outcome.
 */
export class SerialQueue {
  private last: Promise<unknown> = Promise.resolve()

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.last.then(fn, fn)
    // The chain only orders the runs: a failure reaches its own caller through `next`, not the next run.
    this.last = next.then(
      () => undefined,
      () => undefined,
    )
    return next
  }
}

/** `fn` wrapped so that its calls run one at a time, in order. */
export function serialized(fn: () => Promise<void>): () => Promise<void> {
  const q = new SerialQueue()
  return () => q.run(fn)
}

/**
 * Work started now and awaited later, after other work: its failure surfaces where it is awaited, never
 * as an unhandled rejection while the other work runs.
 */
export function startEarly<T>(p: Promise<T>): () => Promise<T> {
  const settled = p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  return async () => {
    const r = await settled
    if (r.ok) return r.value
    throw r.error
  }
}
