#!/usr/bin/env node
// kvmnet-cni: the CNI plugin's executable (see main.ts). Installed as `kvmnet-cni` in a CNI plugin
// directory (/opt/cni/bin), it is found by the configuration's "type".
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

type Main = typeof import('./main.js').main

/** The commands that do work: run from the plugin's bundle (one CommonJS file with V8's code cache, see bundle.ts). */
const WORK = new Set(['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'])

async function load(command: string | undefined): Promise<Main> {
  const bundle = fileURLToPath(new URL('./cni-bundle.cjs', import.meta.url))
  if (command && WORK.has(command) && existsSync(bundle)) return ((await import('../util/index.js')).requireBundle(bundle, command) as { main: Main }).main
  // VERSION (or no command, or an unknown one: an error result) loads nothing else; so do the sources.
  return (await import('./main.js')).main
}

// Once the operation has answered and nothing is left to run, exit at once rather than through Node's
// teardown of the environment and the V8 heap (a few ms of every plugin run, on the runtime's clock).
// 'beforeExit' is emitted only when the event loop is empty, so nothing still under way is cut short, and
// 'exit' handlers (the code cache) still run. Before the answer, an empty loop is a promise that can never
// settle: Node's own exit (13, unsettled top-level await) tells the runtime it failed.
let answered = false
process.on('beforeExit', () => {
  if (answered) process.exit()
})

const main = await load(process.env.CNI_COMMAND)
// stdin, stdout and stderr by descriptor (see stdio.ts): process.stdin/stdout/stderr are never touched.
process.exitCode = await main(process.env)
answered = true
