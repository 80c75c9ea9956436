/**
 * The end of a `kvmnet` or `kvmnet-cni` process once its command has answered: _exit(2) through the addon
 * instead of Node's teardown. process.exit() emits 'exit' (handlers run: the code cache is written there)
 * and then calls process.reallyExit, which joins the platform's worker threads, frees the V8 heap page by
 * page, runs the addon's cleanup hooks (each nft thread frees its libnftables context) and C++ static
 * destructors: work the kernel does at once when the process ends. Measured against the same build
 * without it (interleaved runs, medians): `kvmnet up` 2–5 ms less CPU (user+sys) at every load; on the
 * caller's clock ~5 ms less at load 5–10 (the teardown waits for threads to be scheduled), within the
 * noise at load ~3; kvmnet-cni ADD 61.8 → 59.6 ms CPU, 60.9 → 59.5 ms wall at load ~3. Nothing is left
 * half-written: state, journal and output went out through write(2) before the command answered (fd 1
 * and 2 are written synchronously).
 *
 * Only for the programs (cli/main.ts, cni/bin.ts), which exit through process.exit() once the event loop
 * is empty; never for the library, whose host process is not ours to end. Left out where Node writes
 * something in its teardown — V8 coverage (NODE_V8_COVERAGE), profiles (--cpu-prof, --heap-prof, --prof,
 * on the command line or in NODE_OPTIONS) — and where the addon cannot be loaded or predates exitNow.
 */
import { loadBindingIfPossible } from './load.js'

type Exiting = NodeJS.Process & { reallyExit?: (code: number) => never }

let installed = false

/** Node's flags whose output is written in the teardown. */
const WRITTEN_AT_TEARDOWN = /^--(cpu-prof|heap-prof|prof)(\b|$)/

function teardownWrites(): boolean {
  if (process.env.NODE_V8_COVERAGE) return true
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  return flags.some((f) => WRITTEN_AT_TEARDOWN.test(f))
}

export function installFastExit(): void {
  const proc: Exiting = process
  const really = proc.reallyExit
  if (installed || typeof really !== 'function' || teardownWrites()) return
  installed = true
  proc.reallyExit = (code: number): never => {
    const exitNow = loadBindingIfPossible()?.exitNow
    if (typeof exitNow === 'function') exitNow(code)
    return really.call(process, code)
  }
}
