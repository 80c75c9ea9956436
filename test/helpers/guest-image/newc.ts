/**
 * A writer for the cpio "newc" format the kernel unpacks as an initramfs. Written in Node rather than
 * calling `cpio` so the image needs no root (device nodes like /dev/console are just header fields here)
 * and so the same inputs always give the same bytes (mtime, uid, gid and inode numbers are fixed).
 */

export type NewcEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'char'; path: string; major: number; minor: number; mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

const TRAILER = 'TRAILER!!!'

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

function header(fields: { ino: number; mode: number; nlink: number; size: number; rdevMajor: number; rdevMinor: number; nameSize: number }): string {
  return (
    '070701' +
    hex8(fields.ino) +
    hex8(fields.mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(fields.nlink) +
    hex8(0) + // mtime: fixed, for reproducible images
    hex8(fields.size) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(fields.rdevMajor) +
    hex8(fields.rdevMinor) +
    hex8(fields.nameSize) +
    hex8(0) // check: unused by newc (only "crc" format fills it)
  )
}

function record(ino: number, mode: number, nlink: number, name: string, data: Uint8Array, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8')
  const head = Buffer.from(
    header({ ino, mode, nlink, size: data.length, rdevMajor: rdev[0], rdevMinor: rdev[1], nameSize: nameBytes.length }),
    'ascii',
  )
  // The name is padded so that header+name ends on a 4-byte boundary; the data is padded likewise.
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length))])
}

/** Names in the archive are relative ("bin/sh"), as the kernel's unpacker and `cpio -i` expect. */
function archiveName(path: string): string {
  const name = path.replace(/^\/+/, '').replace(/\/+$/, '')
  if (name === '' || name.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`newc: bad entry path ${JSON.stringify(path)}`)
  }
  return name
}

/** Encode `entries` (in the given order: a directory must come before what it holds) as one newc archive. */
export function encodeNewc(entries: readonly NewcEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  for (const e of entries) {
    const name = archiveName(e.path)
    switch (e.kind) {
      case 'dir':
        parts.push(record(ino++, S_IFDIR | (e.mode ?? 0o755), 2, name, new Uint8Array(0)))
        break
      case 'file':
        parts.push(record(ino++, S_IFREG | (e.mode ?? 0o644), 1, name, e.data))
        break
      case 'symlink':
        parts.push(record(ino++, S_IFLNK | 0o777, 1, name, Buffer.from(e.target, 'utf8')))
        break
      case 'char':
        parts.push(record(ino++, S_IFCHR | (e.mode ?? 0o600), 1, name, new Uint8Array(0), [e.major, e.minor]))
        break
    }
  }
  parts.push(record(0, 0, 1, TRAILER, new Uint8Array(0)))
  return Buffer.concat(parts)
}
