#!/usr/bin/env node
// kvmnet-cni: the CNI plugin's executable (see main.ts). Installed as `kvmnet-cni` in a CNI plugin
// directory (/opt/cni/bin), it is found by the configuration's "type".
//
// The package's `kvmnet-cni` is this file built as CommonJS (dist/cni.cjs: this and the bundle's loader),
// which Node starts without its ESM loader; dist/cni.js, the same built as an ES module, stays for the
// plugin directories that link to it.
import { existsSync, writeSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { requireBundle } from '../util/index.js'

type Main = typeof import('./main.js').main
type Bundle = { main: Main; installFastExit: () => void }

/** The commands that do work, each with its own code cache; anything else (VERSION, an error result) shares one. */
const WORK = new Set(['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'])

/** The plugin's bundle (one CommonJS file with V8's code cache, see bundle.ts), or the sources run through tsx. */
async function load(command: string | undefined): Promise<Main> {
  const bundle = fileURLToPath(new URL('./cni-bundle.cjs', import.meta.url))
  // Not a literal: the build must not turn the sources' path into a second copy of the plugin.
  const sources = './bundle.js'
  const b = existsSync(bundle) ? (requireBundle(bundle, command && WORK.has(command) ? command : 'other') as Bundle) : ((await import(sources)) as Bundle)
  // The process ends through _exit once the operation has answered (see the 'beforeExit' handler below).
  b.installFastExit()
  return b.main
}

// Once the operation has answered and nothing is left to run, exit at once rather than through Node's
// teardown of the environment and the V8 heap (a few ms of every plugin run, on the runtime's clock).
// 'beforeExit' is emitted only when the event loop is empty, so nothing still under way is cut short, and
// 'exit' handlers (the code cache) still run; process.exit() then ends in _exit(2) (native/fast-exit.ts).
// Before the answer, an empty loop is a promise that can never settle: a CommonJS program would exit 0
// without a result, so that is a failure, said on stderr.
let answered = false
process.on('beforeExit', () => {
  if (!answered) {
    process.exitCode = 1
    writeSync(2, 'kvmnet-cni: the operation ended without an answer (a promise that never settled)\n')
  }
  process.exit()
})

// No top-level await: a CommonJS program has none.
// stdin, stdout and stderr by descriptor (see stdio.ts): process.stdin/stdout/stderr are never touched.
void load(process.env.CNI_COMMAND)
  .then((main) => main(process.env))
  .then((code) => {
    process.exitCode = code
    answered = true
  })
