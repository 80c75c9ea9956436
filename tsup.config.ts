import { defineConfig, type Options } from 'tsup'

type Plugin = NonNullable<Options['esbuildPlugins']>[number]

/**
 * Node's builtins that its start-up snapshot does not hold: the first require of one compiles it (crypto
 * pulls in ~35 modules, streams with it: ~3 ms; net, zlib, fs/promises ~1 ms each). Loading kvmnet, or a
 * command that does not use one, should not pay for it.
 */
const LAZY_BUILTINS = ['child_process', 'crypto', 'dgram', 'dns', 'fs/promises', 'net', 'os', 'readline', 'stream', 'timers/promises', 'v8', 'vm', 'worker_threads', 'zlib']

/**
 * In the CommonJS bundles, each of LAZY_BUILTINS is required on first use of one of its exports. esbuild
 * compiles `import { x } from 'node:crypto'` to `import_crypto.x`, read at each call: the import becomes
 * an object with no properties of its own whose prototype is a Proxy that requires the builtin the first
 * time one is read (own properties would be copied, getters and all, by esbuild's __toESM into every
 * importing module). Nothing in the sources changes; a use at a module's top level still loads it at once.
 */
const lazyBuiltins: Plugin = {
  name: 'kvmnet-lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^node:(${LAZY_BUILTINS.map((b) => b.replace('/', '\\/')).join('|')})$`)
    build.onResolve({ filter }, (a) => (a.namespace === 'lazy-builtin' ? { path: a.path, external: true } : { path: a.path, namespace: 'lazy-builtin' }))
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (a) => ({
      loader: 'js',
      contents: `let m
const load = () => (m ??= require(${JSON.stringify(a.path)}))
module.exports = Object.create(new Proxy({}, { get: (_t, key) => load()[key], has: (_t, key) => key in load() }))
`,
    }))
  },
}

// ---- CLI and CNI programs (helper proc's section) ----

/**
 * node:fs/promises in the command bundles (dist/cli-bundle.cjs, dist/cni-bundle.cjs) as node:fs's callback
 * functions wrapped in promises. Its first require compiles ~10 internal modules (fs/promises itself,
 * readline's interface, fs watchers, string_decoder, fs/dir: ~1.7 ms, more on a loaded machine) that
 * Node's start-up snapshot does not hold; every CNI ADD and DEL paid for it (the lease file, the
 * attachment records) for a few reads and writes that node:fs does from what is already loaded. The same
 * calls, results and errors (node:fs makes both from the same libuv request; an argument error thrown by
 * node:fs becomes the rejection fs/promises would give). A call the callback form does not have — a
 * FileHandle as first argument, open() and anything not listed — goes to the real node:fs/promises, loaded
 * then. Like lazyBuiltins, the exports sit behind a prototype Proxy (nothing for __toESM to copy).
 */
const FS_PROMISES_ON_CALLBACKS = ['access', 'appendFile', 'chmod', 'copyFile', 'lstat', 'mkdir', 'mkdtemp', 'readFile', 'readdir', 'readlink', 'realpath', 'rename', 'rm', 'rmdir', 'stat', 'symlink', 'unlink', 'writeFile']

const fsPromisesOnCallbacks: Plugin = {
  name: 'kvmnet-fs-promises-on-callbacks',
  setup(build) {
    build.onResolve({ filter: /^node:fs\/promises$/ }, (a) => (a.namespace === 'fs-promises-on-callbacks' ? { path: a.path, external: true } : { path: a.path, namespace: 'fs-promises-on-callbacks' }))
    build.onLoad({ filter: /.*/, namespace: 'fs-promises-on-callbacks' }, () => ({
      loader: 'js',
      contents: `const fs = require('node:fs')
let real
const full = () => (real ??= require('node:fs/promises'))
const own = {}
for (const name of ${JSON.stringify(FS_PROMISES_ON_CALLBACKS)}) {
  own[name] = (...args) => {
    const first = args[0]
    if (first !== null && typeof first === 'object' && !(first instanceof URL) && !ArrayBuffer.isView(first)) return full()[name](...args)
    return new Promise((resolve, reject) => fs[name](...args, (err, value) => (err ? reject(err) : resolve(value))))
  }
}
module.exports = Object.create(new Proxy({}, { get: (_t, key) => (Object.hasOwn(own, key) ? own[key] : full()[key]), has: (_t, key) => Object.hasOwn(own, key) || key in full() }))
`,
    }))
  },
}

// ---- end of the CLI and CNI section ----

/** One self-contained CommonJS file per entry (the command bundles and the library's core). */
const cjsSingleFile: Options = {
  format: ['cjs'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  splitting: false,
  // import.meta.url (the native loader finds the package root from it) needs a shim in CJS.
  shims: true,
  // The builtins stay `node:` imports so that lazyBuiltins sees them (tsup would strip the prefix first).
  removeNodeProtocol: false,
  esbuildPlugins: [lazyBuiltins],
  // Inside the bundle, under its code cache, rather than resolved and compiled at each start (util/ipaddr.ts).
  noExternal: ['ipaddr.js'],
}

export default defineConfig([
  {
    // The programs as ES modules, dist/cli.js and dist/cni.js: the bins as first published, kept for what
    // names those paths (the package's bins are the CommonJS dist/cli.cjs and dist/cni.cjs below).
    entry: { cli: 'src/cli/main.ts', cni: 'src/cni/bin.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    splitting: true,
    // As in the CommonJS builds: util/ipaddr.ts's require('ipaddr.js') is then the bundled copy.
    noExternal: ['ipaddr.js'],
  },
  {
    // Each program's commands as one CommonJS file, loaded by the program with V8's code cache
    // (src/util/compile-cache.ts): Node 20 caches no compiled code for ES modules, and a command process
    // spends most of its own time compiling the functions it runs once. And the `kvmnet` program itself
    // and `kvmnet-cni` themselves as CommonJS (dist/cli.cjs, dist/cni.cjs, the package's bins: help,
    // version and that loader; see src/cli/main.ts).
    ...cjsSingleFile,
    // fsPromisesOnCallbacks first: it answers node:fs/promises before lazyBuiltins would.
    esbuildPlugins: [fsPromisesOnCallbacks, lazyBuiltins],
    entry: { 'cli-bundle': 'src/cli/bundle.ts', 'cni-bundle': 'src/cni/bundle.ts', cli: 'src/cli/main.ts', cni: 'src/cni/bin.ts' },
  },
  {
    // The library's single implementation (see src/core.ts); scripts/write-entries.mjs then writes the
    // four thin entry files (index.js/.cjs, wire.js/.cjs) that re-export it.
    ...cjsSingleFile,
    entry: { core: 'src/core.ts' },
  },
  {
    entry: { index: 'src/index.ts', wire: 'src/wire.ts' },
    format: ['esm', 'cjs'],
    target: 'node20',
    platform: 'node',
    dts: { only: true },
  },
])
