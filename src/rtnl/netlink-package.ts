/**
 * The `netlink` package's raw socket module (netlink/dist/raw.js), loaded with its native binding found by
 * path. raw.js finds its binding through node-gyp-build (`require('node-gyp-build')(__dirname + '/..')`):
 * loading node-gyp-build, reading package.json, listing prebuilds/ and prebuilds/<platform>-<arch>/ —
 * ~2-3 ms of every short-lived kvmnet process (a CLI command, kvmnet-cni) that opens a netlink socket,
 * more than the rest of raw.js. The package ships one binding per platform,
 * prebuilds/<platform>-<arch>/node.napi.node, which is what node-gyp-build picks when there is no local
 * build and no override: raw.js is run here (as Node runs a CommonJS file) with a require that hands it
 * that file, and node-gyp-build itself for any other layout (or if the file does not load).
 */
import { existsSync, readFileSync } from 'node:fs'
import { Module, createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Script } from 'node:vm'

export type NetlinkModule = typeof import('netlink/dist/raw.js')

type Wrapper = (exports: unknown, require: (id: string) => unknown, module: Module, filename: string, dirname: string) => void

/** node-gyp-build's choice for the netlink package at `dir`, without its search where the answer is known. */
function netlinkBinding(dir: string, require: NodeJS.Require): unknown {
  const file = join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node')
  let first: unknown
  if (!process.env.NETLINK_PREBUILD && !process.env.PREBUILDS_ONLY && !existsSync(join(dir, 'build')) && existsSync(file)) {
    try {
      return require(file)
    } catch (err) {
      // node-gyp-build decides, as it always did; this error is the one told if that fails too.
      first = err
    }
  }
  try {
    return (require('node-gyp-build') as (d: string) => unknown)(dir)
  } catch (err) {
    throw first ?? err
  }
}

/** netlink/dist/raw.js's exports (one copy per process: the caller keeps it). */
export function loadNetlinkRaw(from: string): NetlinkModule {
  const file = createRequire(from).resolve('netlink/dist/raw.js')
  const own = createRequire(file)
  const require = (id: string): unknown => (id === 'node-gyp-build' ? (dir: string) => netlinkBinding(dir, own) : own(id))
  const m = new Module(file)
  m.filename = file
  const run = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file }).runInThisContext() as Wrapper
  run.call(m.exports, m.exports, require, m, file, dirname(file))
  m.loaded = true
  return m.exports as NetlinkModule
}
