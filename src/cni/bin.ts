#!/usr/bin/env node
// kvmnet-cni: the CNI plugin's executable (see main.ts). Installed as `kvmnet-cni` in a CNI plugin
// directory (/opt/cni/bin), it is found by the configuration's "type".
//
// The package's `kvmnet-cni` is this file built as CommonJS (dist/cni.cjs: this and the bundle's loader),
// which Node starts without its ESM loader; dist/cni.js, the same built as an ES module, stays for the
// plugin directories that link to it.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { requireBundle } from '../util/index.js'

type Main = typeof import('./main.js').main

/** The commands that do work, each with its own code cache; anything else (VERSION, an error result) shares one. */
const WORK = new Set(['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'])

/** The plugin's bundle (one CommonJS file with V8's code cache, see bundle.ts), or the sources run through tsx. */
async function load(command: string | undefined): Promise<Main> {
  const bundle = fileURLToPath(new URL('./cni-bundle.cjs', import.meta.url))
  if (existsSync(bundle)) return (requireBundle(bundle, command && WORK.has(command) ? command : 'other') as { main: Main }).main
  // Not a literal: the build must not turn the sources' path into a second copy of the plugin.
  const sources = './main.js'
  return ((await import(sources)) as { main: Main }).main
}

// No top-level await: a CommonJS program has none.
void load(process.env.CNI_COMMAND)
  .then((main) => main(process.env, process.stdin, process.stdout, process.stderr))
  .then((code) => {
    process.exitCode = code
  })
