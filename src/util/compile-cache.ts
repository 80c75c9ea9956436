/**
 * Loading a program's CommonJS bundle (dist/cli-bundle.cjs, dist/cni-bundle.cjs) with V8's code cache,
 * what Node 22's module.enableCompileCache does and Node 20 lacks. A `kvmnet` or `kvmnet-cni` process
 * runs one command and exits: most of its own time went to compiling the functions that command runs for
 * the first time. V8 can save that compiled code (Script#createCachedData) and take it back on the next
 * start, checking it against the source, V8's version and its flags (a stale cache is rejected, and the
 * source compiled as usual).
 *
 * V8 itself only compares the source's length: each cache holds a copy of the source it was made from,
 * and is handed to V8 only when that copy is byte for byte the bundle being loaded (an npm upgrade keeps
 * file times, and a rebuilt bundle can have the same length); code-cache-file.ts reads and checks it.
 *
 * Per command, because a cache holds what ran: the first run of a command (or the first after the bundle
 * or Node changed) compiles as usual and saves its cache when the process exits; later runs of it start
 * from that. The cache lives beside the bundle, as trusted as the code itself: one that is not a regular
 * file of the bundle's owner, or that others can write, is not loaded (and is replaced). A bundle that
 * cannot be written beside (read-only install, not root) simply runs without one.
 * KVMNET_COMPILE_CACHE=0 turns it off; so does --enable-source-maps.
 *
 * A bundle run this way has no import(): in Node 20 a script taken from a code cache loses its dynamic
 * import callback. esbuild turns the sources' import() of bundled modules into require; an import() of a
 * module left outside (a node: module) would stay, so the sources import those statically
 * (test/unit/compile-cache.test.ts checks the built bundles).
 */
import { isAscii } from 'node:buffer'
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { Module, createRequire } from 'node:module'
import { dirname } from 'node:path'
import { Script } from 'node:vm'
import { type CacheFs, readFramedSource, trustedCodeCache } from './code-cache-file.js'

/** Where the cache cannot be written, the command runs without one: no error of the command's own. */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT'])

type Wrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void

/** What Node puts around a CommonJS module's source (Module.wrap), before it and after it. */
const [HEAD, TAIL] = Module.wrap('\0').split('\0') as [string, string]

/** The magic line of a command's cache file (see code-cache-file.ts for the rest of it). */
const MAGIC = Buffer.from('kvmnet-code-cache\n')

/** The file system calls the cache's reading makes (node:fs itself). */
const FS: CacheFs = { closeSync, constants, fstatSync, openSync, readSync }

function writeCache(file: string, script: Script, source: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    const length = Buffer.alloc(4)
    length.writeUInt32LE(source.length)
    writeFileSync(tmp, Buffer.concat([MAGIC, length, source, script.createCachedData()]), { mode: 0o644, flag: 'wx' })
    // Atomic: a concurrent start reads the old cache or the new one, never half of one.
    renameSync(tmp, file)
  } catch (err) {
    // A temp file begun and not renamed (ENOSPC half-way) is not left behind.
    if (existsSync(tmp)) rmSync(tmp)
    const code = (err as NodeJS.ErrnoException).code ?? ''
    if (NOT_WRITABLE.has(code)) return
    // Never the command's failure: one line, and the next run compiles as usual.
    process.stderr.write(`warning: V8 code cache ${file} not written: ${code || String(err)}\n`)
  }
}

/**
 * `require(bundle)`, with the code cache of `key` (the command): the bundle gets a module of its own and
 * the require, __filename and __dirname Node would give it. Called once per process (each call runs it).
 */
export function requireBundle(bundle: string, key: string): unknown {
  // With source maps on (--enable-source-maps), a plain require: Node maps the stacks of what it compiles.
  if (process.env.KVMNET_COMPILE_CACHE === '0' || process.sourceMapsEnabled) return createRequire(import.meta.url)(bundle)
  const cacheFile = `${bundle}.${key.replace(/[^A-Za-z0-9-]/g, '_')}.v8-cache`
  const { framed, bytes, owner } = readFramedSource(FS, bundle, HEAD, TAIL)
  // The build makes the bundles ASCII (scripts/write-entries.mjs): a one-byte string copied from the bytes,
  // with the same wrapper Node puts around a CommonJS module, so that the bundle sees what require gives it.
  const ascii = isAscii(bytes)
  const wrapped = ascii ? framed.toString('latin1') : Module.wrap(bytes.toString('utf8'))
  // The string made, `framed` (and `bytes` in it) may take V8's data.
  const cachedData = trustedCodeCache(FS, cacheFile, MAGIC, owner, bytes, framed)
  const script = new Script(wrapped, { filename: bundle, ...(cachedData ? { cachedData } : {}) })
  if (!cachedData || script.cachedDataRejected) {
    // A cache V8 refused (another Node) has overwritten the bytes: the source is taken back from the string.
    const source = cachedData ? Buffer.from(wrapped.slice(HEAD.length, wrapped.length - TAIL.length), ascii ? 'latin1' : 'utf8') : bytes
    process.once('exit', () => writeCache(cacheFile, script, source))
  }
  const m = new Module(bundle)
  m.filename = bundle
  const run = script.runInThisContext() as Wrapper
  run.call(m.exports, m.exports, createRequire(bundle), m, bundle, dirname(bundle))
  m.loaded = true
  return m.exports
}
