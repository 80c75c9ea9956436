import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KvmnetError } from '../errors.js'
import type { NativeBinding } from './binding.js'

const PACKAGE_NAME = 'kvmnet'

/**
 * The kvmnet package root above `from`: the nearest folder whose package.json is kvmnet's. Walking up by
 * name rather than a fixed `../..` is what lets one loader work from src/native (tsx, tap), from the
 * single-file bundles in dist/ (ESM and CJS) and from node_modules/kvmnet/dist.
 */
export function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && readsAsKvmnet(manifest)) return dir
    if (dirname(dir) === dir) break
  }
  throw new KvmnetError(`cannot find the ${PACKAGE_NAME} package root above ${from}`)
}

function readsAsKvmnet(manifest: string): boolean {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME
  } catch {
    return false
  }
}

/** The folder this module is in. tsup's `shims` gives the CJS bundle an import.meta.url too. */
function ownDir(): string {
  return dirname(fileURLToPath(import.meta.url))
}

let cached: NativeBinding | undefined

/** The addon if this process has loaded it already (never loads it). */
export function loadedBinding(): NativeBinding | undefined {
  return cached
}

/**
 * The prebuild kvmnet ships for this platform, by its exact path: what node-gyp-build would choose on a
 * glibc Linux with no build/ folder and no KVMNET_PREBUILD override. node-gyp-build finds it by reading
 * package.json and listing prebuilds/ and prebuilds/<platform>-<arch>/ (plus loading itself): ~2 ms of
 * every CLI and CNI process's start. Anything else (musl, a local build, an override) goes its way.
 */
function shippedPrebuild(root: string): string | undefined {
  if (process.env.KVMNET_PREBUILD || process.env.PREBUILDS_ONLY || existsSync('/etc/alpine-release') || existsSync(join(root, 'build'))) return undefined
  const file = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'kvmnet.glibc.node')
  return existsSync(file) ? file : undefined
}

/**
 * Loads the addon once: prebuilds/<platform>-<arch>/ (by its path, else through node-gyp-build, what an
 * installed package uses), else a local `node-gyp build` in native/ (development).
 */
export function loadBinding(): NativeBinding {
  if (cached) return cached
  const root = findPackageRoot(ownDir())
  const require = createRequire(join(root, 'package.json'))
  const shipped = shippedPrebuild(root)
  let first: unknown
  if (shipped) {
    try {
      cached = require(shipped) as NativeBinding
      return cached
    } catch (err) {
      // Not loadable here after all (another libc, a broken file): node-gyp-build chooses, as it always
      // did; this error is the one told if nothing loads.
      first = err
    }
  }
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown
    cached = nodeGypBuild(root) as NativeBinding
    return cached
  } catch (err) {
    first ??= err
  }
  const local = join(root, 'native', 'build', 'Release', 'kvmnet.node')
  if (existsSync(local)) {
    cached = require(local) as NativeBinding
    return cached
  }
  throw new KvmnetError(
    `kvmnet's native addon for ${process.platform}-${process.arch} was not found under ${root}/prebuilds; ` +
      'run `npm run build:native` in the kvmnet checkout',
    { cause: first },
  )
}

let unloadable: unknown

/**
 * The addon, or undefined where it cannot be loaded (no prebuild for this platform, no build): for callers
 * that have a slower way of their own (src/util/sha256.ts). Tried once per process; the failure is kept
 * and loadBinding() still tells it to whoever needs a native operation.
 */
export function loadBindingIfPossible(): NativeBinding | undefined {
  if (cached) return cached
  if (unloadable !== undefined) return undefined
  try {
    return loadBinding()
  } catch (err) {
    unloadable = err ?? new Error('the kvmnet addon could not be loaded')
    return undefined
  }
}
