import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: { entry: { index: 'src/index.ts' } },
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    splitting: true,
  },
  {
    entry: { index: 'src/index.ts' },
    format: ['cjs'],
    dts: { entry: { index: 'src/index.ts' } },
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    splitting: false,
    // execa (and what it imports) is ESM-only; bundle it into the CJS build so `require('kvmnet')` works
    // on every Node 20, also those without require(esm).
    noExternal: ['execa', /^@sindresorhus\//, /^figures$/, /^is-/, /^get-stream$/, /^human-signals$/, /^npm-run-path$/, /^path-key$/, /^parse-ms$/, /^pretty-ms$/, /^strip-final-newline$/, /^unicorn-magic$/, /^yoctocolors$/],
    shims: true,
  },
])
