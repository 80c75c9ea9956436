/**
 * Work an apply starts early (a kernel read beside its first checks) for a step that needs the result
 * later: the returned function gives the result, or throws the error, to each caller. An apply that fails
 * before anyone asks does not leave the error unhandled (Node would end the process for it).
 */
export function startedEarly<T>(work: Promise<T>): () => Promise<T> {
  const settled = work.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
  return async () => {
    const r = await settled
    if ('error' in r) throw r.error
    return r.value
  }
}
