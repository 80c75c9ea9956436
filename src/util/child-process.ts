/**
 * node:child_process, loaded when a process is first started: requiring it costs ~1.5 ms at import, which
 * an application importing kvmnet (or a CLI command that only reads state) would pay for nothing.
 */
import type * as ChildProcessModule from 'node:child_process'
import { createRequire } from 'node:module'

let loaded: typeof ChildProcessModule | undefined

export function childProcess(): typeof ChildProcessModule {
  // tsup's shims give the CJS bundle an import.meta.url too.
  return (loaded ??= createRequire(import.meta.url)('node:child_process') as typeof ChildProcessModule)
}
