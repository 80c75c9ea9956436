/**
 * The files of a running dnsmasq, tightened once it is up: its pid file belongs to root (dnsmasq hands it
 * to its unprivileged user, who could then rewrite it and make `down` refuse to signal the process), and
 * the lease file — guests' MACs and host names — is readable by root only (dnsmasq keeps writing it
 * through the descriptor it opened as root).
 */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { StateError, isNotFound } from '../../errors.js'

export async function tightenDnsmasqFiles(stateDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return
  await tighten(join(stateDir, 'dnsmasq.pid'), 0o644, true)
  await tighten(join(stateDir, 'leases'), 0o600, false)
}

/** chown/chmod through a descriptor opened without following links: a planted link's target is left alone. */
async function tighten(path: string, mode: number, toRoot: boolean): Promise<void> {
  let fh
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    // Not written yet (or removed since): nothing to tighten.
    if (isNotFound(err)) return
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new StateError(path, 'is a symbolic link: kvmnet does not follow links in its state directories (remove it)')
    throw err
  }
  try {
    if (toRoot) await fh.chown(0, 0)
    await fh.chmod(mode)
  } finally {
    await fh.close()
  }
}
