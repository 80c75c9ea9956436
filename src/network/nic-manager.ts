/**
 * Who else configures a NIC. On real hosts the NIC a `bridge` network enslaves is usually managed —
 * by a DHCP client renewing its lease on it, NetworkManager, systemd-networkd or ifupdown — and that
 * manager fights over the addresses once they live on the bridge (a renewal re-adds the address to the
 * enslaved NIC; NetworkManager takes the device back). kvmnet finds them, refuses a managed NIC unless
 * told to adopt it, and then hands the NIC over: a DHCP client is restarted on the bridge (which has the
 * NIC's MAC, so the lease is the same), NetworkManager is told to leave the device alone; on down both
 * are given back.
 */
import { childProcess } from '../util/index.js'
import { existsSync, readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { basename } from 'node:path'
import { promisify } from 'node:util'
import { processFacts, netnsId } from '../dnsmasq/index.js'
import type { NetnsRef } from '../netns/index.js'
import { nsCommand } from '../netns/index.js'

const DHCP_CLIENTS = new Set(['udhcpc', 'udhcpc6', 'dhclient', 'dhcpcd', 'dhcpcd5', 'dhcpcd6'])

export type NicManager =
  /** A DHCP client process whose command line names the NIC. */
  | { kind: 'dhcp-client'; program: string; pid: number; argv: string[] }
  /** NetworkManager runs in the namespace and does not list the NIC as unmanaged. */
  | { kind: 'NetworkManager'; pid: number; state: string }
  /** systemd-networkd has configured the NIC (its runtime state says so); host namespace only. */
  | { kind: 'systemd-networkd'; networkFile: string | undefined }
  /** ifupdown brought the NIC up (/run/network/ifstate.NIC); host namespace only. */
  | { kind: 'ifupdown' }

export function describeManager(m: NicManager): string {
  switch (m.kind) {
    case 'dhcp-client':
      return `${m.program} (pid ${m.pid})`
    case 'NetworkManager':
      return `NetworkManager (pid ${m.pid}, device state ${m.state})`
    case 'systemd-networkd':
      return `systemd-networkd${m.networkFile ? ` (${m.networkFile})` : ''}`
    case 'ifupdown':
      return 'ifupdown (/etc/network/interfaces)'
  }
}

/** How to hand the NIC over by hand, per manager. */
export function handOverHint(m: NicManager, nic: string, bridge: string): string {
  switch (m.kind) {
    case 'dhcp-client':
      return `stop ${m.program} on ${nic} and run it on ${bridge} instead`
    case 'NetworkManager':
      return `nmcli device set ${nic} managed no (or give NetworkManager the bridge)`
    case 'systemd-networkd':
      return `make ${nic} unmanaged in its .network file (Unmanaged=yes) and configure ${bridge} there`
    case 'ifupdown':
      return `ifdown ${nic}, and declare ${bridge} with bridge_ports ${nic} in /etc/network/interfaces instead`
  }
}

/** The DHCP client's program name, from argv[0] or busybox's applet argument. */
function dhcpProgram(argv: readonly string[]): string | undefined {
  const first = basename(argv[0] ?? '')
  if (DHCP_CLIENTS.has(first)) return first
  if (first === 'busybox' && DHCP_CLIENTS.has(argv[1] ?? '')) return argv[1]
  return undefined
}

/** Whether a command line names `nic` as its interface: `-i NIC`, `-iNIC`, `--interface[=]NIC` or a bare NIC. */
export function argvNamesInterface(argv: readonly string[], nic: string): boolean {
  return argv.some((a, i) => i > 0 && (a === nic || a === `-i${nic}` || a === `--interface=${nic}`))
}

/** The same command line with the interface replaced: the client restarted on the bridge (or back on the NIC). */
export function argvForInterface(argv: readonly string[], from: string, to: string): string[] {
  return argv.map((a, i) => {
    if (i === 0) return a
    if (a === from) return to
    if (a === `-i${from}`) return `-i${to}`
    if (a === `--interface=${from}`) return `--interface=${to}`
    return a
  })
}

/** The processes whose network namespace is `want` ("dev:ino"). */
async function processesIn(want: string): Promise<{ pid: number; argv: string[]; exe: string | undefined }[]> {
  const out: { pid: number; argv: string[]; exe: string | undefined }[] = []
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    const f = await processFacts(pid)
    if (f.netns === want) out.push({ pid, argv: f.argv, exe: f.exe })
  }
  return out
}

async function nmDeviceState(ns: NetnsRef | undefined, nic: string): Promise<string> {
  const c = nsCommand(ns, 'nmcli', ['-t', '-f', 'DEVICE,STATE', 'device', 'status'])
  try {
    const { stdout } = await promisify(childProcess().execFile)(c.file, c.args, { timeout: 5000 })
    const line = stdout.split('\n').find((l) => l.startsWith(`${nic}:`))
    return line ? line.slice(nic.length + 1) : 'unknown'
  } catch {
    return 'unknown (nmcli failed)'
  }
}

/** Every manager of `nic` in `ns` that would fight kvmnet over its addresses. */
export async function nicManagers(ns: NetnsRef | undefined, nic: string, ifindex: number): Promise<NicManager[]> {
  const found: NicManager[] = []
  const here = await netnsId(ns)
  const procs = await processesIn(here)
  for (const p of procs) {
    const program = dhcpProgram(p.argv)
    if (program && argvNamesInterface(p.argv, nic)) found.push({ kind: 'dhcp-client', program, pid: p.pid, argv: p.argv })
  }
  const nm = procs.find((p) => p.exe === 'NetworkManager' || basename(p.argv[0] ?? '') === 'NetworkManager')
  if (nm) {
    const state = await nmDeviceState(ns, nic)
    if (!state.startsWith('unmanaged')) found.push({ kind: 'NetworkManager', pid: nm.pid, state })
  }
  // systemd-networkd's and ifupdown's records are per host, by ifindex/name: only the host namespace's.
  // The init process's namespace may not be readable (a container's pid 1 of another user): then it is not ours.
  if (here === (await netnsId(HOST_NETNS).catch(unreadable))) {
    const link = `/run/systemd/netif/links/${ifindex}`
    if (procs.some((p) => p.exe === 'systemd-networkd') && existsSync(link)) {
      const text = readFileSync(link, 'utf8')
      if (/^ADMIN_STATE=configur/m.test(text)) found.push({ kind: 'systemd-networkd', networkFile: text.match(/^NETWORK_FILE=(.+)$/m)?.[1] })
    }
    if (existsSync(`/run/network/ifstate.${nic}`)) found.push({ kind: 'ifupdown' })
  }
  return found
}

/** The init process's namespace: the host's. */
const HOST_NETNS: NetnsRef = { path: '/proc/1/ns/net', isCurrent: false }

/** The init process's namespace file cannot be read (EACCES/EPERM in a container): it is not ours. */
function unreadable(err: unknown): undefined {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT') return undefined
  throw err
}
