import { defineConfig } from 'tsup'

export default defineConfig([
  {
    // The command: one ESM program, loaded only by `kvmnet`.
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    splitting: true,
  },
  {
    // The library's single implementation (see src/core.ts); scripts/write-entries.mjs then writes the
    // four thin entry files (index.js/.cjs, wire.js/.cjs) that re-export it.
    entry: { core: 'src/core.ts' },
    format: ['cjs'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    splitting: false,
    // import.meta.url (the native loader finds the package root from it) needs a shim in CJS.
    shims: true,
  },
  {
    entry: { index: 'src/index.ts', wire: 'src/wire.ts' },
    format: ['esm', 'cjs'],
    target: 'node20',
    platform: 'node',
    dts: { only: true },
  },
])
