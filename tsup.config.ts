import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
    format: ['esm', 'cjs'],
    dts: { entry: { index: 'src/index.ts' } },
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    splitting: false,
    // execa is ESM-only; bundle it into the CJS build so `require('kvmnet')` works on Node 20.
    noExternal: ['execa'],
    shims: true,
  },
])
