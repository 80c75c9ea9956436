/**
 * Which .ko files the guest must insmod, in load order, for a given Debian kernel. Debian's cloud kernel
 * builds virtio-net and virtio-pci as modules while the generic one may build some in, so this reads the
 * kernel's own modules.dep / modules.builtin instead of assuming either.
 */
import { existsSync, readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { NotFoundError } from '../../../src/errors.js'

export interface GuestModule {
  /** Path relative to /lib/modules/VERSION, as modules.dep writes it, with any compression suffix. */
  relPath: string
  /** Path inside the initramfs under /lib/modules, always an uncompressed `.ko`. */
  imagePath: string
}

/** 'virtio-net' and 'virtio_net' are the same module to the kernel. */
function moduleName(relPath: string): string {
  const base = relPath.slice(relPath.lastIndexOf('/') + 1)
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_')
}

/** Parse modules.dep text into name -> { relPath, deps (relPaths) }. */
export function parseModulesDep(text: string): Map<string, { relPath: string; deps: string[] }> {
  const out = new Map<string, { relPath: string; deps: string[] }>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const relPath = line.slice(0, colon).trim()
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean)
    out.set(moduleName(relPath), { relPath, deps })
  }
  return out
}

/**
 * The modules to load for `wanted`, dependencies first, skipping those built into the kernel.
 * Throws NotFoundError for a module that is neither built in nor shipped.
 */
export function resolveModules(
  wanted: readonly string[],
  modulesDep: string,
  modulesBuiltin: string,
): GuestModule[] {
  const dep = parseModulesDep(modulesDep)
  const builtin = new Set(modulesBuiltin.split('\n').filter(Boolean).map(moduleName))
  const byPath = new Map([...dep.values()].map((m) => [m.relPath, m]))
  const order: GuestModule[] = []
  const seen = new Set<string>()
  // Depth-first: every dependency has its own modules.dep line, so recursing loads transitive ones first
  // whatever order a line lists them in.
  const visit = (relPath: string): void => {
    if (seen.has(relPath)) return
    seen.add(relPath)
    for (const d of byPath.get(relPath)?.deps ?? []) visit(d)
    order.push({ relPath, imagePath: relPath.replace(/\.ko\.(xz|zst|gz)$/, '.ko') })
  }
  for (const w of wanted) {
    const name = w.replace(/-/g, '_')
    const m = dep.get(name)
    if (m) visit(m.relPath)
    else if (!builtin.has(name)) throw new NotFoundError(`kernel module ${w}`, `kernel module ${w} is neither built in nor in modules.dep`)
  }
  return order
}

/** The bytes of a module, decompressed, since busybox insmod is not built to read compressed modules. */
export function readModule(modulesDir: string, relPath: string): Buffer {
  const file = join(modulesDir, relPath)
  if (relPath.endsWith('.gz')) return gunzipSync(readFileSync(file))
  if (relPath.endsWith('.xz')) return execFileSync('xz', ['-dc', file], { maxBuffer: 256 << 20 })
  if (relPath.endsWith('.zst')) return execFileSync('zstd', ['-dc', file], { maxBuffer: 256 << 20 })
  return readFileSync(file)
}

/** modules.dep and modules.builtin of kernel `version` (missing builtin list = nothing built in). */
export function readModuleIndex(modulesDir: string): { dep: string; builtin: string } {
  const depFile = join(modulesDir, 'modules.dep')
  if (!existsSync(depFile)) throw new NotFoundError(depFile, `${depFile} not found: is the kernel's modules package installed?`)
  const builtinFile = join(modulesDir, 'modules.builtin')
  return {
    dep: readFileSync(depFile, 'utf8'),
    builtin: existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8') : '',
  }
}
