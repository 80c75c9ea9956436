/**
 * The files of a running dnsmasq, tightened once it is up: its pid file belongs to root (dnsmasq hands it
 * to its unprivileged user, who could then rewrite it and make `down` refuse to signal the process), and
 * the lease file — guests' MACs and host names — is readable by root only (dnsmasq keeps writing it
 * through the descriptor it opened as root).
 */
import { closeSync, constants, fchmodSync, fchownSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { StateError, isNotFound } from '../../errors.js'

export async function tightenDnsmasqFiles(stateDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return
  tighten(join(stateDir, 'dnsmasq.pid'), 0o644, true)
  tighten(join(stateDir, 'leases'), 0o600, false)
}

/**
 * chown/chmod through a descriptor opened without following links: a planted link's target is left alone.
 * Synchronously: two small files right after dnsmasq is ready, the last thing an apply with a new dnsmasq
 * waits for (asynchronously, seven trips through the thread pool).
 */
function tighten(path: string, mode: number, toRoot: boolean): void {
  let fd
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    // Not written yet (or removed since): nothing to tighten.
    if (isNotFound(err)) return
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new StateError(path, 'is a symbolic link: kvmnet does not follow links in its state directories (remove it)')
    throw err
  }
  try {
    if (toRoot) fchownSync(fd, 0, 0)
    fchmodSync(fd, mode)
  } finally {
    closeSync(fd)
  }
}
