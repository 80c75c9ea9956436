/**
 * Memory glibc keeps after a burst, given back once the library goes idle. An `up` of many networks grows
 * glibc's arenas (V8's GC threads and libnftables allocate there) and glibc keeps what was freed for
 * reuse: a process that brought up a hundred networks and then just holds them (kvmnet up --foreground, a
 * service) carried those pages for good (issue 21, RSS). malloc_trim(0) returns them, but it walks every
 * arena under its lock (milliseconds), so never on an operation's path: IDLE_MS after the last operation
 * ends, once per idle period, on the libuv pool (the addon's mallocTrim), from an unref'd timer that never
 * keeps a process alive. Operations starting meanwhile postpone it; a process that never loaded the addon
 * (or has one from before mallocTrim) skips it.
 */
import { loadedBinding } from './load.js'

/** Idle this long after the last operation: a batch of ups (a CLI loop, an orchestrator's start) is one burst. */
export const IDLE_MS = 2000

let busy = 0
let timer: ReturnType<typeof setTimeout> | undefined
let trims = 0

/** `fn` counted as an operation: the trim waits until none runs and none has for IDLE_MS. */
export async function asOperation<T>(fn: () => Promise<T>): Promise<T> {
  busy++
  try {
    return await fn()
  } finally {
    busy--
    if (busy === 0) arm()
  }
}

function arm(): void {
  if (timer) {
    // Coalesced: one timer, pushed back by each operation that ends.
    timer.refresh()
    return
  }
  timer = setTimeout(fire, IDLE_MS)
  timer.unref()
}

function fire(): void {
  timer = undefined
  if (busy > 0) return // re-armed when the running operation ends
  const trim = loadedBinding()?.mallocTrim
  if (typeof trim !== 'function') return
  trims++
  trim().catch((err: unknown) => {
    // Not the caller's failure (there is no caller): said, never thrown into an idle process.
    process.emitWarning(`kvmnet: malloc_trim after idle failed: ${(err as Error).message ?? String(err)}`)
  })
}

/** For tests: how many trims have been started, and whether one is pending. */
export function idleTrimState(): { trims: number; pending: boolean; busy: number } {
  return { trims, pending: timer !== undefined, busy }
}
