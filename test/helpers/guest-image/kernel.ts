/**
 * The guest kernel: a Debian kernel image from /boot (e.g. linux-image-cloud-amd64) whose modules are
 * installed under /lib/modules, since the initramfs takes virtio drivers from there.
 */
import { existsSync, readdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { NotFoundError } from '../../../src/errors.js'

const MODULES_ROOT = '/lib/modules'

/** 'vmlinuz-6.1.0-56-cloud-amd64' -> '6.1.0-56-cloud-amd64'. */
export function kernelVersionOf(kernelPath: string): string {
  const m = basename(kernelPath).match(/^vmlinuz-(.+)$/)
  if (!m) throw new NotFoundError(kernelPath, `cannot tell the kernel version of ${kernelPath}: expected a vmlinuz-VERSION file name`)
  return m[1]!
}

export function modulesDirOf(kernelPath: string): string {
  return join(MODULES_ROOT, kernelVersionOf(kernelPath))
}

/** Numeric-aware descending order, so 6.1.0-56 sorts above 6.1.0-9. */
function newestFirst(a: string, b: string): number {
  return b.localeCompare(a, 'en', { numeric: true })
}

/**
 * The kernel to boot: $KVMNET_GUEST_KERNEL when set, else the newest /boot/vmlinuz-* that has modules,
 * preferring a -cloud- flavour (smaller, boots faster, made for virtio guests).
 */
export function findGuestKernel(): string {
  const explicit = process.env.KVMNET_GUEST_KERNEL
  if (explicit) {
    if (!existsSync(explicit)) throw new NotFoundError(explicit, `KVMNET_GUEST_KERNEL=${explicit} does not exist`)
    return explicit
  }
  const found = existsSync('/boot')
    ? readdirSync('/boot')
        .filter((f) => f.startsWith('vmlinuz-'))
        .filter((f) => existsSync(join(MODULES_ROOT, f.slice('vmlinuz-'.length), 'modules.dep')))
        .sort(newestFirst)
    : []
  const pick = found.find((f) => f.includes('-cloud-')) ?? found[0]
  if (!pick) {
    throw new NotFoundError('guest kernel', 'no /boot/vmlinuz-* with modules under /lib/modules: install linux-image-cloud-amd64')
  }
  return join('/boot', pick)
}
