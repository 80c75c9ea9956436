// After tsup: the public entry files, each a thin re-export of dist/core.cjs (the one implementation), with
// every name spelt out so that Node's static analysis of CommonJS (cjs-module-lexer) and ESM named
// imports both see them; and core.cjs's V8 code cache (see LOADER). Run by `npm run build`.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const core = require('../dist/core.cjs')

// dist/load-core.cjs: every entry loads core.cjs through it, once per process (require's cache, so the
// four entries share one implementation), with the V8 code cache written here at build time: compiling
// core.cjs is most of what `require('kvmnet')` costs, and Node 20 caches no compiled code itself. V8
// rejects a cache of another V8 version or flags (core.cjs is then compiled as usual) but compares only the
// source's length: the cache starts with the SHA-256 of the core.cjs it was made from, and is not used for
// another. One that is not a regular file of core.cjs's owner, or that others can write, is not read.
// Nothing is written at run time. With source maps on (--enable-source-maps), a plain require, so that Node maps kvmnet's stacks.
const LOADER = `'use strict'
// Loads core.cjs with its V8 code cache (written by scripts/write-entries.mjs at build time).
const { createHash } = require('node:crypto')
const { closeSync, constants, fstatSync, openSync, readFileSync, statSync, writeFileSync } = require('node:fs')
const { Module, createRequire } = require('node:module')
const { join } = require('node:path')
const { Script } = require('node:vm')

const file = join(__dirname, 'core.cjs')
const cacheFile = join(__dirname, 'core.cjs.v8-cache')

function trustedCache(hash) {
  let fd
  try {
    fd = openSync(cacheFile, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ELOOP' || err.code === 'EACCES') return undefined
    throw err
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile() || st.uid !== statSync(file).uid || (st.mode & 0o022) !== 0) return undefined
    const data = readFileSync(fd)
    return data.length > 32 && data.subarray(0, 32).equals(hash) ? data.subarray(32) : undefined
  } finally {
    closeSync(fd)
  }
}

function load() {
  if (require.cache[file]) return require.cache[file].exports
  if (process.sourceMapsEnabled) return require(file)
  const source = readFileSync(file, 'utf8')
  const hash = createHash('sha256').update(source).digest()
  const cachedData = process.env.KVMNET_WRITE_CORE_CACHE === '1' ? undefined : trustedCache(hash)
  const script = new Script(Module.wrap(source), { filename: file, ...(cachedData ? { cachedData } : {}) })
  const m = new Module(file, module)
  m.filename = file
  m.paths = module.paths
  require.cache[file] = m
  try {
    script.runInThisContext().call(m.exports, m.exports, createRequire(file), m, file, __dirname)
  } catch (err) {
    delete require.cache[file]
    throw err
  }
  m.loaded = true
  if (process.env.KVMNET_WRITE_CORE_CACHE === '1') writeFileSync(cacheFile, Buffer.concat([hash, script.createCachedData()]), { mode: 0o644 })
  return m.exports
}

module.exports = load()
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
    // require() rather than `import core from './core.cjs'`: the ESM loader would first scan all of
    // core.cjs for its exports (cjs-module-lexer), ~50 ms and ~14 MB for names this file spells out anyway.
    `// kvmnet${entry === 'root' ? '' : '/wire'} (ESM): re-exports the one implementation in core.cjs.\nimport { createRequire } from 'node:module'\nconst core = createRequire(import.meta.url)('./load-core.cjs').${entry}\nexport const { ${list} } = core\n`,
  )
}

// The cache holds what loading core.cjs compiles (its top level and what that runs), made in a clean
// process with no flags, as an application's would be.
execFileSync(process.execPath, ['-e', `require(${JSON.stringify(new URL('../dist/load-core.cjs', import.meta.url).pathname)})`], {
  env: { ...process.env, KVMNET_WRITE_CORE_CACHE: '1', NODE_OPTIONS: '' },
  stdio: 'inherit',
})
