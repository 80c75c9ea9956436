/**
 * One call at a time, in order: `fn` runs again only after the previous run settled (concurrent journal
 * writes must not interleave in the same file). Each caller gets its own run's outcome.
 */
export function serialized(fn: () => Promise<void>): () => Promise<void> {
  let last: Promise<void> = Promise.resolve()
  return () => {
    const next = last.then(fn, fn)
    // The chain only orders the runs: a failure reaches its own caller through `next`, not the next run.
    last = next.then(
      () => undefined,
      () => undefined,
    )
    return next
  }
}
