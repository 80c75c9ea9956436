/**
 * Builds (once per set of inputs) the guest's initramfs: busybox, the init and udhcpc scripts next to
 * this file, and the virtio modules of the chosen kernel. The result is cached under the system temp dir
 * keyed by a hash of every input's bytes, so a changed kernel, busybox or script rebuilds it.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { busyboxFiles } from './busybox.js'
import { findGuestKernel, modulesDirOf } from './kernel.js'
import { readModule, readModuleIndex, resolveModules } from './kernel-modules.js'
import { encodeNewc, type NewcEntry } from './newc.js'

export interface GuestImageOptions {
  /** Kernel whose modules go in; default findGuestKernel(). */
  kernel?: string
  /** busybox to use; default $KVMNET_GUEST_BUSYBOX or the installed one. */
  busybox?: string
  /** Modules to load (with their dependencies); default the virtio-pci NIC stack. */
  modules?: string[]
  /** Where cached images live; default os.tmpdir(). */
  cacheRoot?: string
}

/** af_packet: udhcpc's raw socket. Each is skipped when the kernel has it built in. */
export const DEFAULT_GUEST_MODULES: readonly string[] = ['af_packet', 'virtio_pci', 'virtio_net']

// Bumped when the image layout changes in a way the input hashes cannot see.
const LAYOUT_VERSION = '1'

const here = dirname(fileURLToPath(import.meta.url))

/** Every directory on the way to `path`, outermost first ('/a/b/c' -> ['/a', '/a/b']). */
function parents(path: string): string[] {
  const parts = path.split('/').filter(Boolean)
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)
}

/** The archive's entries, directories first; pure given its inputs. */
export function guestImageEntries(inputs: {
  files: ReadonlyArray<{ imagePath: string; data: Uint8Array; mode: number }>
}): NewcEntry[] {
  const dirs = new Set<string>(['/bin', '/dev', '/etc', '/proc', '/sys', '/tmp', '/lib/modules'].flatMap((d) => [...parents(d), d]))
  for (const f of inputs.files) for (const p of parents(f.imagePath)) dirs.add(p)
  const entries: NewcEntry[] = [...dirs].sort().map((path) => ({ kind: 'dir', path }))
  // The kernel opens /dev/console for init before anything mounts devtmpfs: without this node init has no
  // stdout at all, and so no result lines.
  entries.push({ kind: 'char', path: '/dev/console', major: 5, minor: 1, mode: 0o600 })
  entries.push({ kind: 'char', path: '/dev/null', major: 1, minor: 3, mode: 0o666 })
  for (const f of [...inputs.files].sort((a, b) => (a.imagePath < b.imagePath ? -1 : 1))) {
    entries.push({ kind: 'file', path: f.imagePath, data: f.data, mode: f.mode })
  }
  entries.push({ kind: 'symlink', path: '/bin/sh', target: 'busybox' })
  return entries
}

/** Path of a gzip'd newc initramfs for the test guest, building it if the cache does not have it. */
export async function buildGuestInitramfs(opts: GuestImageOptions = {}): Promise<string> {
  const kernel = opts.kernel ?? findGuestKernel()
  const modulesDir = modulesDirOf(kernel)
  const index = readModuleIndex(modulesDir)
  const modules = resolveModules(opts.modules ?? DEFAULT_GUEST_MODULES, index.dep, index.builtin)

  const files: Array<{ imagePath: string; data: Uint8Array; mode: number }> = []
  for (const b of busyboxFiles(opts.busybox)) files.push({ imagePath: b.imagePath, data: readFileSync(b.hostPath), mode: 0o755 })
  files.push({ imagePath: '/init', data: readFileSync(join(here, 'init.sh')), mode: 0o755 })
  files.push({ imagePath: '/etc/udhcpc.script', data: readFileSync(join(here, 'udhcpc.script')), mode: 0o755 })
  for (const m of modules) files.push({ imagePath: `/lib/modules/${m.imagePath}`, data: readModule(modulesDir, m.relPath), mode: 0o644 })
  files.push({ imagePath: '/etc/kvmnet-modules', data: Buffer.from(modules.map((m) => `${m.imagePath}\n`).join('')), mode: 0o644 })

  const hash = createHash('sha256').update(LAYOUT_VERSION)
  for (const f of [...files].sort((a, b) => (a.imagePath < b.imagePath ? -1 : 1))) {
    hash.update(`\0${f.imagePath}\0${f.mode}\0${f.data.length}\0`).update(f.data)
  }
  const dir = join(opts.cacheRoot ?? tmpdir(), `kvmnet-guest-${hash.digest('hex').slice(0, 16)}`)
  const out = join(dir, 'initramfs.cpio.gz')
  if (existsSync(out)) return out

  mkdirSync(dir, { recursive: true })
  const image = gzipSync(encodeNewc(guestImageEntries({ files })))
  // Write-then-rename: two test files may build the same image at once, and neither may see half of it.
  const partial = `${out}.${process.pid}.partial`
  writeFileSync(partial, image)
  renameSync(partial, out)
  return out
}
