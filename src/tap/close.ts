import { native } from '../native/index.js'
import type { NetnsRef } from '../netns/index.js'
import type { TapHandle } from './handle.js'

/**
 * Up to this many fds are closed on the event loop, more off it. Each close waits for the kernel to detach
 * a queue (tun's synchronize_net): ~0.1-0.2 ms here, so many taps are closed in parallel on libuv's thread
 * pool. But a process's first use of that pool starts its 4 threads, and for one tap that costs more than
 * the close (fresh `kvmnet up` processes, one tap: close 0.16 ms median on the loop against 0.6 ms through
 * the pool, with 5-40 ms outliers on a loaded host) — and nothing else on `up` uses the pool.
 */
const CLOSE_ON_LOOP_MAX_FDS = 4

/**
 * Closes the fds of persistent taps in `ns` (every handle even if one fails, then the first failure
 * thrown), then settles them: without a queue a tap has no carrier, but the kernel applies that to its
 * operational state only up to a second later (link-watch), and until then a bridge takes it for a port
 * that is up — each one enabled re-runs the bridge's port-state selection over all its ports, and
 * disabling them again later does it once more (see native/src/tap_settle.cc). Settled, a tap without a
 * guest joins a bridge, and is raised, as the disabled port it is.
 */
export async function closeTaps(ns: NetnsRef | undefined, handles: readonly TapHandle[]): Promise<void> {
  if (handles.reduce((n, h) => n + h.fds.length, 0) > CLOSE_ON_LOOP_MAX_FDS) {
    const results = await Promise.allSettled(handles.map((h) => h.closeAsync()))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  } else {
    let first: { err: unknown } | undefined
    for (const h of handles) {
      try {
        h.close()
      } catch (err) {
        first ??= { err }
      }
    }
    if (first) throw first.err
  }
  // Every one named: a tap made persistent after its creation (TUNSETPERSIST) has a handle that says it is not.
  if (handles.length > 0) native.tapSettle?.(!ns || ns.isCurrent ? null : ns.path, handles.map((h) => h.name))
}
