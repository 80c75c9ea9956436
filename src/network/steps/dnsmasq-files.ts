/**
 * The files of a running dnsmasq, tightened once it is up: its pid file belongs to root (dnsmasq hands it
 * to its unprivileged user, who could then rewrite it and make `down` refuse to signal the process), and
 * the lease file — guests' MACs and host names — is readable by root only (dnsmasq keeps writing it
 * through the descriptor it opened as root).
 */
import { chmod, chown } from 'node:fs/promises'
import { join } from 'node:path'

export async function tightenDnsmasqFiles(stateDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return
  await chown(join(stateDir, 'dnsmasq.pid'), 0, 0).catch(ignoreMissing)
  await chmod(join(stateDir, 'dnsmasq.pid'), 0o644).catch(ignoreMissing)
  await chmod(join(stateDir, 'leases'), 0o600).catch(ignoreMissing)
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err
}
