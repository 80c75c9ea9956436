/**
 * The busybox binary for the guest and, when it is dynamically linked (Debian's `busybox` package, as
 * opposed to `busybox-static`), the shared libraries it needs. Supporting both means CI can keep the
 * `busybox` package the namespace tests already use: `busybox-static` conflicts with it.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { NotFoundError } from '../../../src/errors.js'

export interface GuestBinary {
  /** Absolute path inside the image. */
  imagePath: string
  /** Where to read it from on the host. */
  hostPath: string
}

const CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox', '/usr/sbin/busybox']

export function findBusybox(explicit?: string): string {
  const path = explicit ?? process.env.KVMNET_GUEST_BUSYBOX ?? CANDIDATES.find((p) => existsSync(p))
  if (!path || !existsSync(path)) {
    throw new NotFoundError('busybox', `busybox not found${path ? ` at ${path}` : ''}: install busybox or busybox-static`)
  }
  return path
}

/** True when the ELF file has a PT_INTERP program header, i.e. needs a dynamic loader. */
export function isDynamicElf(bytes: Uint8Array): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) return false
  if (b[4] !== 2 || b[5] !== 1) throw new Error('busybox: only 64-bit little-endian ELF is supported')
  const phoff = Number(b.readBigUInt64LE(0x20))
  const phentsize = b.readUInt16LE(0x36)
  const phnum = b.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) {
    if (b.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return true
  }
  return false
}

/** Parse `ldd` output into the absolute library paths it resolved (loader included, vdso excluded). */
export function parseLdd(text: string): string[] {
  const out: string[] = []
  for (const line of text.split('\n')) {
    const arrow = line.match(/=>\s*(\/\S+)/)
    const bare = line.match(/^\s*(\/\S+)\s+\(0x/)
    const p = arrow?.[1] ?? bare?.[1]
    if (p) out.push(p)
  }
  return out
}

/** busybox at /bin/busybox plus, for a dynamic one, each library at the path the loader will look for. */
export function busyboxFiles(explicit?: string): GuestBinary[] {
  const host = findBusybox(explicit)
  const files: GuestBinary[] = [{ imagePath: '/bin/busybox', hostPath: realpathSync(host) }]
  if (isDynamicElf(readFileSync(host))) {
    const ldd = execFileSync('ldd', [host], { encoding: 'utf8' })
    for (const lib of parseLdd(ldd)) files.push({ imagePath: lib, hostPath: realpathSync(lib) })
  }
  return files
}
