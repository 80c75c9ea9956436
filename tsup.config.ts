import { defineConfig, type Options } from 'tsup'

/** One self-contained CommonJS file per entry (the command bundles and the library's core). */
const cjsSingleFile: Options = {
  format: ['cjs'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  splitting: false,
  // import.meta.url (the native loader finds the package root from it) needs a shim in CJS.
  shims: true,
}

export default defineConfig([
  {
    // The commands: ESM programs, loaded only by `kvmnet` and by the CNI plugin `kvmnet-cni` (they share
    // chunks; each loads only what its command needs).
    entry: { cli: 'src/cli/main.ts', cni: 'src/cni/bin.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    splitting: true,
  },
  {
    // Each program's commands as one CommonJS file, loaded by the program above with V8's code cache
    // (src/util/compile-cache.ts): Node 20 caches no compiled code for ES modules, and a command process
    // spends most of its own time compiling the functions it runs once.
    ...cjsSingleFile,
    entry: { 'cli-bundle': 'src/cli/bundle.ts', 'cni-bundle': 'src/cni/bundle.ts' },
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
