// After tsup: the public entry files, each a thin re-export of dist/core.cjs (the one implementation), with
// every name spelt out so that Node's static analysis of CommonJS (cjs-module-lexer) and ESM named
// imports both see them; and core.cjs's V8 code cache (see LOADER). Run by `npm run build`.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import ts from 'typescript'

// The CommonJS bundles in pure ASCII. esbuild escapes every other character in code (strings, regular
// expressions, identifiers) but copies comments as they are: one '…' in a doc comment made all of
// core.cjs a two-byte string in V8, decoded from UTF-8 at each load (~10M instructions, a quarter of
// what require('kvmnet') costs over a bare Node) where an ASCII file is copied as Latin-1. In a comment
// line a \u escape changes nothing; anywhere else the build stops (it could be a regular expression).
for (const bundle of ['core.cjs', 'cli-bundle.cjs', 'cni-bundle.cjs']) {
  const url = new URL(`../dist/${bundle}`, import.meta.url)
  const lines = readFileSync(url, 'utf8').split('\n')
  let changed = false
  for (const [i, line] of lines.entries()) {
    // eslint-disable-next-line no-control-regex
    if (!/[^\x00-\x7f]/.test(line)) continue
    if (!/^\s*(\*|\/\*|\/\/)/.test(line)) throw new Error(`dist/${bundle}:${i + 1}: a character outside ASCII in code, not in a comment: ${line.trim()}`)
    // eslint-disable-next-line no-control-regex
    lines[i] = line.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`)
    changed = true
  }
  if (changed) writeFileSync(url, lines.join('\n'))
}

const require = createRequire(import.meta.url)
const core = require('../dist/core.cjs')

// The loader of core.cjs, once, as text: the body of dist/load-core.cjs (what the CommonJS entries
// require) and, where Node has process.getBuiltinModule (20.16 and later), the head of each ESM entry.
// Every entry loads core.cjs through it, once per process: it registers core.cjs in require's cache
// (Module._cache) under its path and returns what is there, so the four entries share one implementation
// whichever loads first. With the V8 code cache written here at build time: compiling core.cjs is most of
// what `require('kvmnet')` costs, and Node 20 caches no compiled code itself. V8 rejects a cache of
// another V8 version or flags (core.cjs is then compiled as usual) but compares only the source's length:
// the cache file holds a copy of the core.cjs it was made from, and is used only when that copy is byte for
// byte the core.cjs being loaded (a memcmp; a SHA-256 would need node:crypto, whose first require costs
// more than the rest of this file). One that is not a regular file of core.cjs's owner, or that others can
// write, is not read. Nothing is written at run time. With source maps on (--enable-source-maps), a plain
// require, so that Node maps kvmnet's stacks.
// Cache file: "kvmnet-core-cache\n", the source's length (uint32 LE), the source, V8's data.
// `builtin` is require (CommonJS) or process.getBuiltinModule (ESM): an ES module that made a require of
// its own (createRequire) and required a file with it would pay for a second module system's first use,
// ~10M instructions, a sixth of `import('kvmnet')`'s own cost. core.cjs requires nothing but node:
// builtins at load; anything else it is given a real require for.
// The reading and checking of a code cache file, shared with the commands' loader (compile-cache.ts):
// src/util/code-cache-file.ts compiled to plain functions (it imports nothing; node:fs is an argument).
const CACHE_FILE = ts
  .transpileModule(readFileSync(new URL('../src/util/code-cache-file.ts', import.meta.url), 'utf8'), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, removeComments: true },
  })
  .outputText.replace(/^export (?=function )/gm, '')
  .replace(/^export \{\};?$/gm, '')
  .trim()
if (/\bimport\b|\brequire\(|[^\x00-\x7f]/.test(CACHE_FILE)) throw new Error('src/util/code-cache-file.ts must import nothing and stay ASCII: the entries run it before anything is loaded')

const LOAD_CORE = `${CACHE_FILE}
function loadCore(builtin, dir, parent) {
  const fs = builtin('node:fs')
  const { isAscii } = builtin('node:buffer')
  const { Module } = builtin('node:module')
  const { Script } = builtin('node:vm')
  const file = dir + '/core.cjs'
  const had = Module._cache[file]
  if (had) return had.exports
  if (process.sourceMapsEnabled) return Module.createRequire(file)(file)
  const MAGIC = Buffer.from('kvmnet-core-cache\\n')
  const [HEAD, TAIL] = Module.wrap('\\0').split('\\0')
  const { framed, bytes, owner } = readFramedSource(fs, file, HEAD, TAIL)
  // esbuild writes ASCII: a one-byte string straight from the bytes, without UTF-8 decoding.
  const wrapped = isAscii(bytes) ? framed.toString('latin1') : Module.wrap(bytes.toString('utf8'))
  const writing = process.env.KVMNET_WRITE_CORE_CACHE === '1'
  // After the string is made: the source's buffer is then free to hold V8's data.
  const cachedData = writing ? undefined : trustedCodeCache(fs, file + '.v8-cache', MAGIC, owner, bytes, framed)
  const script = new Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) })
  const m = new Module(file, parent)
  m.filename = file
  m.paths = Module._nodeModulePaths(dir)
  let full
  const requireFromCore = (id) => (id.startsWith('node:') ? builtin(id) : (full ??= Module.createRequire(file))(id))
  Module._cache[file] = m
  try {
    script.runInThisContext().call(m.exports, m.exports, requireFromCore, m, file, dir)
  } catch (err) {
    delete Module._cache[file]
    throw err
  }
  m.loaded = true
  if (writing) {
    // Every export read once, so that the cache holds their getters (esbuild's, one small function each)
    // compiled: an ESM entry reads all of them at load, and an application the ones it uses.
    for (const ns of Object.values(m.exports)) for (const k of Object.keys(ns)) void ns[k]
    const length = Buffer.alloc(4)
    length.writeUInt32LE(bytes.length)
    fs.writeFileSync(file + '.v8-cache', Buffer.concat([MAGIC, length, bytes, script.createCachedData()]), { mode: 0o644 })
  }
  return m.exports
}`
const LOADER = `'use strict'
// Loads core.cjs with its V8 code cache (written by scripts/write-entries.mjs at build time).
${LOAD_CORE}

// node: builtins straight from Node's own table where it has one (20.16 and later): through require, each of
// core.cjs's ~70 builtin requires resolved its id first.
module.exports = loadCore(process.getBuiltinModule ?? require, __dirname, module)
`
writeFileSync(new URL('../dist/load-core.cjs', import.meta.url), LOADER)

for (const entry of ['root', 'wire']) {
  const file = entry === 'root' ? 'index' : entry
  const names = Object.keys(core[entry]).filter((n) => n !== 'default').sort()
  const list = names.join(', ')
  writeFileSync(
    new URL(`../dist/${file}.cjs`, import.meta.url),
    `'use strict'\n// kvmnet${entry === 'root' ? '' : '/wire'} (CommonJS): re-exports the one implementation in core.cjs.\nconst core = require('./load-core.cjs').${entry}\nmodule.exports = core\n0 && (module.exports = { ${list} })\n`,
  )
  writeFileSync(
    new URL(`../dist/${file}.js`, import.meta.url),
    // require() (or the loader above) rather than `import core from './core.cjs'`: the ESM loader would
    // first scan all of core.cjs for its exports (cjs-module-lexer), ~50 ms and ~14 MB for names this file
    // spells out anyway. Without process.getBuiltinModule (Node before 20.16), through load-core.cjs; node:module
    // imported only then (a static import of it costs ~1 ms of every import('kvmnet')).
    `// kvmnet${entry === 'root' ? '' : '/wire'} (ESM): re-exports the one implementation in core.cjs.
${LOAD_CORE}
const core = (process.getBuiltinModule
  ? loadCore(process.getBuiltinModule, process.getBuiltinModule('node:path').dirname(process.getBuiltinModule('node:url').fileURLToPath(import.meta.url)))
  : (await import('node:module')).createRequire(import.meta.url)('./load-core.cjs')).${entry}
export const { ${list} } = core
`,
  )
}

// The cache holds what loading core.cjs compiles (its top level and what that runs) and its exports'
// getters, made in a clean process with no flags, as an application's would be.
execFileSync(process.execPath, ['-e', `require(${JSON.stringify(new URL('../dist/load-core.cjs', import.meta.url).pathname)})`], {
  env: { ...process.env, KVMNET_WRITE_CORE_CACHE: '1', NODE_OPTIONS: '' },
  stdio: 'inherit',
})
