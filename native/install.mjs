#!/usr/bin/env node
// The package's `install` script: node-gyp-build's fallback, fitted to this layout. If node-gyp-build finds
// and loads a binary for this machine (prebuilds/<platform>-<arch>/ from the tarball: linux-x64 and
// linux-arm64, glibc), nothing happens. Only where none matches or loads (another architecture, musl, a
// glibc older than the prebuild needs) is the addon compiled from native/ with node-gyp, into
// native/build/Release/, where src/native/load.ts looks after the prebuilds.
//
// Why not the plain `node-gyp-build` bin: it runs `node-gyp rebuild` in the package root, where there is no
// binding.gyp (it is native/binding.gyp), and without a nodedir node-gyp downloads the Node headers, which
// an offline machine cannot; here the running Node's own headers are used when its prefix ships them, as
// native/build.mjs does. npm_config_build_from_source=true (npm install --build-from-source) forces the
// compile, as with node-gyp-build.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const require = createRequire(import.meta.url)

if (process.env.npm_config_build_from_source !== 'true') {
  try {
    // The same check as node-gyp-build-test: resolve and actually load it.
    require('node-gyp-build')(root)
    process.exit(0)
  } catch {}
}

const env = { ...process.env }
const prefix = resolve(dirname(process.execPath), '..')
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = prefix
}
if (!env.JOBS) env.JOBS = 'max'

console.log(`kvmnet: no prebuilt addon for ${process.platform}-${process.arch} loads here; building it from source in ${here}`)
// node-gyp: the checkout's own (a devDependency) or, in an installed package, the one npm puts on PATH for
// install scripts.
let own
try {
  own = require.resolve('node-gyp/bin/node-gyp.js')
} catch {}
const [command, args] = own ? [process.execPath, [own, 'rebuild']] : ['node-gyp', ['rebuild']]
const result = spawnSync(command, args, { cwd: here, env, stdio: 'inherit' })
if (result.error) {
  console.error(`kvmnet: cannot run node-gyp: ${result.error.message}`)
  process.exit(1)
}
process.exit(result.status ?? 1)
