#!/usr/bin/env node
// `npm run build:native`: compiles the addon with prebuildify into prebuilds/linux-<arch>/, the folder
// node-gyp-build loads from, so that an installed tarball never needs a compiler (npm 11 does not run
// install scripts by default).
//
// First for the running Node's own architecture, then, when the matching Debian cross compiler is on PATH,
// for the other shipped one (linux-arm64 from x64 with g++-aarch64-linux-gnu, or linux-x64 from arm64 with
// g++-x86-64-linux-gnu). Without it the cross build is skipped with one line; `prepack` then fails in
// scripts/check-prebuilds.mjs, so a tarball never ships without both.
//
// node-gyp normally downloads the Node headers for its target; this machine (and CI) may be offline, so
// when the running Node's own prefix ships them (official tarballs and Debian/NodeSource packages do),
// point node-gyp at them. N-API is ABI-stable and the headers are architecture-independent, so the headers
// of the running Node are as good as any, for the cross build too.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const require = createRequire(import.meta.url)

/** The architectures the package ships, with the GNU triplet of each one's Debian cross toolchain. */
const SHIPPED = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }

const env = { ...process.env }
const prefix = resolve(dirname(process.execPath), '..')
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = prefix
}
// Both cores: node-gyp runs make with -j JOBS.
if (!env.JOBS) env.JOBS = 'max'

const prebuildify = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js')
const baseArgs = [prebuildify, '--napi', '--strip', '--tag-libc', '--name', 'kvmnet', '--cwd', here, '--out', root]

function onPath(cmd) {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, cmd)))
}

function run(args, extraEnv = {}) {
  const result = spawnSync(process.execPath, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: 'inherit' })
  // The intermediate build tree is only noise once the binary is in prebuilds/.
  rmSync(join(here, 'build'), { recursive: true, force: true })
  return result.status ?? 1
}

const host = process.arch
let status = run(baseArgs)
if (status !== 0) process.exit(status)

for (const [arch, triplet] of Object.entries(SHIPPED)) {
  if (arch === host) continue
  const out = join(root, 'prebuilds', `linux-${arch}`)
  // Never leave a binary that was not built from these sources: a stale one would pass check-prebuilds.
  rmSync(out, { recursive: true, force: true })
  const cxx = `${triplet}-g++`
  if (!onPath(cxx)) {
    console.log(`build:native: linux-${arch} prebuild skipped (no ${cxx} on PATH; Debian: g++-${triplet.replace(/_/g, '-')})`)
    continue
  }
  console.log(`build:native: cross-building linux-${arch} with ${cxx}`)
  status = run([...baseArgs, '--arch', arch, '--strip-bin', `${triplet}-strip`], {
    CC: `${triplet}-gcc`,
    CXX: cxx,
    LINK: cxx,
    AR: `${triplet}-ar`,
    // gyp's make generator builds host-side tools with these; none exist here, but keep them native.
    CC_host: 'gcc',
    CXX_host: 'g++',
  })
  if (status !== 0) {
    rmSync(out, { recursive: true, force: true })
    process.exit(status)
  }
}
