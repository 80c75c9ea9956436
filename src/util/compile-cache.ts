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
 * file times, and a rebuilt bundle can have the same length). A memcmp of the two, where a SHA-256 needed
 * node:crypto, whose first load cost more than the check itself.
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

/** Where the cache cannot be written, the command runs without one: no error of the command's own. */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT'])

type Wrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void

/** What Node puts around a CommonJS module's source (Module.wrap), before it and after it. */
const [HEAD, TAIL] = Module.wrap('\0').split('\0') as [string, string]

/** A cache file: MAGIC, the source's length (uint32 LE), the source, V8's data. */
const MAGIC = Buffer.from('kvmnet-code-cache\n')

/**
 * V8's data from the cache when it is one to trust — a regular file of the bundle's owner that no one
 * else can write — and was made from this very source. Read into `spare` when it fits: the buffer the
 * source was read into, done with once its string is made, whose pages are mapped already (a fresh one
 * for V8's ~400 KB was ~100 page faults, ~1.2 ms on a VM where a fault costs 12 us).
 */
function trustedCache(file: string, owner: number, source: Buffer, spare: Buffer): Buffer | undefined {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // None yet, a symbolic link (ELOOP), or unreadable: compiled as usual, and (re)written if we can.
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'EACCES') return undefined
    throw err
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile() || st.uid !== owner || (st.mode & 0o022) !== 0) return undefined
    const start = MAGIC.length + 4
    const head = Buffer.allocUnsafe(start)
    if (st.size <= start || readSync(fd, head, 0, start, 0) !== start || !head.subarray(0, MAGIC.length).equals(MAGIC)) return undefined
    const end = start + head.readUInt32LE(MAGIC.length)
    if (end - start !== source.length || st.size <= end || !sameBytes(fd, start, source)) return undefined
    // Only V8's part is read whole (the copy of the source was compared through a small buffer: ~190
    // fewer page faults for the CLI's 750 KB bundle than reading the whole file).
    const size = st.size - end
    const data = size <= spare.length ? spare.subarray(0, size) : Buffer.allocUnsafe(size)
    let n = 0
    for (let got = -1; n < data.length && got !== 0; n += got) got = readSync(fd, data, n, data.length - n, end + n)
    return n === data.length ? data : undefined
  } finally {
    closeSync(fd)
  }
}

/** Whether the file holds `expected` from `position` on, read through one 64 KB buffer. */
function sameBytes(fd: number, position: number, expected: Buffer): boolean {
  const chunk = Buffer.allocUnsafe(Math.min(expected.length, 64 * 1024))
  for (let off = 0; off < expected.length; ) {
    const got = readSync(fd, chunk, 0, Math.min(chunk.length, expected.length - off), position + off)
    if (got === 0 || !chunk.subarray(0, got).equals(expected.subarray(off, off + got))) return false
    off += got
  }
  return true
}

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
  const fd = openSync(bundle, constants.O_RDONLY)
  let framed: Buffer
  let bytes: Buffer
  let owner: number
  try {
    const st = fstatSync(fd)
    owner = st.uid
    // The bundle read between Node's wrapper, so that the string V8 gets is one flat copy: Module.wrap's
    // concatenation is a rope V8 flattens into a second 750 KB copy before it compiles or takes the cache
    // (~0.7 ms and ~230 page faults of a `kvmnet up`).
    framed = Buffer.allocUnsafe(HEAD.length + st.size + TAIL.length)
    framed.write(HEAD, 0, 'latin1')
    let n = 0
    for (let got = -1; n < st.size && got !== 0; n += got) got = readSync(fd, framed, HEAD.length + n, st.size - n, null)
    bytes = framed.subarray(HEAD.length, HEAD.length + n)
    framed.write(TAIL, HEAD.length + n, 'latin1')
    framed = framed.subarray(0, HEAD.length + n + TAIL.length)
  } finally {
    closeSync(fd)
  }
  // The build makes the bundles ASCII (scripts/write-entries.mjs): a one-byte string copied from the bytes,
  // with the same wrapper Node puts around a CommonJS module, so that the bundle sees what require gives it.
  const ascii = isAscii(bytes)
  const wrapped = ascii ? framed.toString('latin1') : Module.wrap(bytes.toString('utf8'))
  // The string made, `framed` (and `bytes` in it) may take V8's data.
  const cachedData = trustedCache(cacheFile, owner, bytes, framed)
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
