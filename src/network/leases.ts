/**
 * A network's DHCP leases, read from its dnsmasq's lease file — also when dnsmasq is not running or not
 * this process's — and the wait for a guest's first lease. A file that cannot be read (permissions) is an
 * error naming it, never an empty list.
 */
import { SystemError, SpecError, TimeoutError } from '../errors.js'
import { LeaseWatcher, isExpired, readLeaseFile, type Lease } from '../dnsmasq/index.js'
import { join } from 'node:path'
import type { PlannedPort } from './plan.js'
import type { NetworkState } from './state.js'

/** A lease, with the name of the port whose guest MAC it is (when it is one of the network's ports). */
export type PortLease = Lease & { port?: string }

/** A lease with the port whose guest MAC it is. */
export function withPort(ports: readonly PlannedPort[], l: Lease): PortLease {
  const port = ports.find((p) => p.mac === l.mac)?.name
  return port ? { ...l, port } : { ...l }
}

/** The lease file's leases; a file that exists but cannot be read is a SystemError naming it. */
export async function readLeases(file: string): Promise<Lease[]> {
  try {
    return await readLeaseFile(file)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (typeof e.errno !== 'number') throw err
    throw new SystemError({ errno: e.errno, syscall: 'open', path: file, message: `cannot read the lease file ${file}: ${e.code ?? e.errno}`, cause: err })
  }
}

/** The leases still valid now, each with its port. */
export async function liveLeases(file: string, ports: readonly PlannedPort[]): Promise<PortLease[]> {
  const now = Date.now()
  return (await readLeases(file)).filter((l) => !isExpired(l, now)).map((l) => withPort(ports, l))
}

/**
 * Resolves with the first live lease of `mac`; TimeoutError after `timeoutMs`. Watches first, then reads:
 * a lease granted in between is seen by one or the other.
 */
export async function waitForLease(file: string | undefined, network: string, what: string, mac: string, ports: readonly PlannedPort[], timeoutMs: number): Promise<PortLease> {
  if (!file) throw new SpecError('ipv4.dhcp', `${network} runs no DHCP server`)
  const watcher = new LeaseWatcher(file)
  try {
    return await new Promise<PortLease>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`lease for ${what}`, timeoutMs)), timeoutMs)
      const fail = (err: unknown) => {
        clearTimeout(timer)
        reject(err)
      }
      const done = (l: Lease) => {
        if (l.mac !== mac || isExpired(l)) return
        clearTimeout(timer)
        resolve(withPort(ports, l))
      }
      watcher.on('lease-added', done)
      watcher.on('lease-changed', done)
      watcher.on('error', fail)
      watcher
        .start()
        .then(() => readLeases(file))
        .then((ls) => ls.forEach(done))
        .catch(fail)
    })
  } finally {
    watcher.stop()
  }
}

/** The lease file of the network's dnsmasq, as its state records it. */
export function leaseFileOf(state: NetworkState | undefined): string | undefined {
  const dir = state?.dnsmasq?.stateDir
  return dir ? join(dir, 'leases') : undefined
}
