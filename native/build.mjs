#!/usr/bin/env node
// `npm run build:native`: compiles the addon with prebuildify into prebuilds/linux-<arch>/, the folder
// node-gyp-build loads from, so that an installed tarball never needs a compiler (npm 11 does not run
// install scripts by default).
//
// node-gyp normally downloads the Node headers for its target; this machine (and CI) may be offline, so
// when the running Node's own prefix ships them (official tarballs and Debian/NodeSource packages do),
// point node-gyp at them. N-API is ABI-stable, so the headers of the running Node are as good as any.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const require = createRequire(import.meta.url)

const env = { ...process.env }
const prefix = resolve(dirname(process.execPath), '..')
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = prefix
}

const prebuildify = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js')
const args = [prebuildify, '--napi', '--strip', '--tag-libc', '--name', 'kvmnet', '--cwd', here, '--out', root]
const result = spawnSync(process.execPath, args, { cwd: root, env, stdio: 'inherit' })
// The intermediate build tree is only noise once the binary is in prebuilds/.
rmSync(join(here, 'build'), { recursive: true, force: true })
process.exit(result.status ?? 1)
