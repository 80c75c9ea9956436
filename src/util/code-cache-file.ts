/**
 * Reading a CommonJS file and its V8 code cache file, for the two loaders that compile one with its cache:
 * compile-cache.ts (the commands' bundles; their caches written when the process exits) and the package
 * entries' loader of core.cjs (its cache written at build time). scripts/write-entries.mjs puts this
 * file's functions, compiled, as text at the head of each entry, which must load nothing before core.cjs:
 * so nothing is imported here, and node:fs comes as an argument (from require in CommonJS, from
 * process.getBuiltinModule in an ES module).
 *
 * A cache file is: a magic line, the source's length (uint32 LE), the source, V8's data. V8 itself only
 * compares a source's length with the one its data was made from; the copy is what makes a cache made
 * from another source of the same length (an edited or rebuilt file) unusable, with a memcmp where a
 * SHA-256 needed node:crypto, whose first load cost more than the check. One that is not a regular file
 * of the source's owner, or that others can write, is not trusted.
 */
import type * as NodeFs from 'node:fs'

/** What of node:fs these functions use. */
export type CacheFs = Pick<typeof NodeFs, 'closeSync' | 'constants' | 'fstatSync' | 'openSync' | 'readSync'>

export interface FramedSource {
  /** head, the file's bytes, tail: one buffer, so that V8 gets one flat string of it. */
  framed: Buffer
  /** The file's bytes (a view into framed). */
  bytes: Buffer
  /** The file's owner: the cache must be that user's. */
  owner: number
}

/**
 * `file` read between `head` and `tail` (Node's CommonJS wrapper, Module.wrap's two halves): the string V8
 * gets is then one flat copy, where Module.wrap's concatenation is a rope V8 flattens into a second copy of
 * the source before it compiles or takes the cache (~230 page faults for the CLI's bundle).
 */
export function readFramedSource(fs: CacheFs, file: string, head: string, tail: string): FramedSource {
  const fd = fs.openSync(file, fs.constants.O_RDONLY)
  try {
    const st = fs.fstatSync(fd)
    const framed = Buffer.allocUnsafe(head.length + st.size + tail.length)
    framed.write(head, 0, 'latin1')
    let n = 0
    for (let got = -1; n < st.size && got !== 0; n += got) got = fs.readSync(fd, framed, head.length + n, st.size - n, null)
    framed.write(tail, head.length + n, 'latin1')
    return { framed: framed.subarray(0, head.length + n + tail.length), bytes: framed.subarray(head.length, head.length + n), owner: st.uid }
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * V8's data from `cacheFile` when it is one to trust, `owner`'s and written by no one else, and holds a
 * copy of exactly `source`; else undefined (none, a symbolic link, unreadable, short, another source).
 * The data is read into `spare` when it fits: the buffer the source was read into, done with once the
 * source's string is made, whose pages are mapped already (a fresh buffer for V8's 250-400 KB was 60-100
 * page faults, 0.7-1.2 ms on a VM where a first-touched page costs 12 us). `source` may be a view into
 * `spare`: it is compared before the data is read.
 */
export function trustedCodeCache(fs: CacheFs, cacheFile: string, magic: Buffer, owner: number, source: Buffer, spare: Buffer): Buffer | undefined {
  let fd: number
  try {
    fd = fs.openSync(cacheFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'EACCES') return undefined
    throw err
  }
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile() || st.uid !== owner || (st.mode & 0o022) !== 0) return undefined
    const start = magic.length + 4
    const header = Buffer.allocUnsafe(start)
    if (st.size <= start || fs.readSync(fd, header, 0, start, 0) !== start || !header.subarray(0, magic.length).equals(magic)) return undefined
    const end = start + header.readUInt32LE(magic.length)
    if (end - start !== source.length || st.size <= end) return undefined
    // The copy compared through one 64 KB buffer: reading the whole file was ~200 page faults more.
    const chunk = Buffer.allocUnsafe(Math.min(source.length, 65536))
    for (let off = 0; off < source.length; ) {
      const got = fs.readSync(fd, chunk, 0, Math.min(chunk.length, source.length - off), start + off)
      if (got === 0 || !chunk.subarray(0, got).equals(source.subarray(off, off + got))) return undefined
      off += got
    }
    const size = st.size - end
    const data = size <= spare.length ? spare.subarray(0, size) : Buffer.allocUnsafe(size)
    let n = 0
    for (let got = -1; n < size && got !== 0; n += got) got = fs.readSync(fd, data, n, size - n, end + n)
    return n === size ? data : undefined
  } finally {
    fs.closeSync(fd)
  }
}
