/**
 * Handing a managed NIC over to a bridge network and back (adoptManagedInterface). DHCP clients: the one
 * on the NIC is stopped, and the same command line is started on the bridge once the addresses live
 * there — the bridge has the NIC's MAC, so the server sees the same client and the lease (and its
 * renewals) carry on; on down the bridge's client is stopped and the original command line started on the
 * NIC again. NetworkManager: the device is set unmanaged, and managed again on down. systemd-networkd and
 * ifupdown cannot be told at run time; they are refused by the caller.
 */
import { childProcess } from '../../util/index.js'
import { promisify } from 'node:util'
import { processStartTime, stopProcess, type ProcessIdentity } from '../../dnsmasq/index.js'
import { KvmnetError } from '../../errors.js'
import { nsCommand } from '../../netns/index.js'
import type { NetnsRef } from '../../netns/index.js'
import { argvForInterface, type NicManager } from '../nic-manager.js'
import type { HandedOver } from '../state.js'

/** A client is given 3 s to exit on SIGTERM (a release to send, a script to run) before SIGKILL. */
const CLIENT_GRACE_MS = 3000

/** Who `pid` is now (pid + start time: a pid reused later is never signalled); undefined when it is gone. */
async function identityOf(pid: number): Promise<ProcessIdentity | undefined> {
  const startTime = await processStartTime(pid)
  return startTime ? { pid, startTime } : undefined
}

/** Starts argv in the namespace, detached from kvmnet (it outlives this process, as the original did). */
async function startDetached(ns: NetnsRef | undefined, argv: readonly string[]): Promise<ProcessIdentity | undefined> {
  const [file, ...args] = argv
  if (!file) throw new KvmnetError('empty command line')
  const c = nsCommand(ns, file, args)
  const child = childProcess().spawn(c.file, c.args, { detached: true, stdio: 'ignore' })
  child.unref()
  if (child.pid === undefined) throw new KvmnetError(`could not start ${argv.join(' ')}`)
  // nsenter execs the client in place: the pid is the client's own.
  return identityOf(child.pid)
}

async function nmcli(ns: NetnsRef | undefined, nic: string, managed: boolean): Promise<void> {
  const c = nsCommand(ns, 'nmcli', ['device', 'set', nic, 'managed', managed ? 'yes' : 'no'])
  await promisify(childProcess().execFile)(c.file, c.args, { timeout: 10_000 })
}

/** Takes the NIC from its managers (before its addresses move). */
export async function handOver(ns: NetnsRef | undefined, managers: readonly NicManager[], nic: string): Promise<HandedOver> {
  const out: HandedOver = { nic, dhcpClients: [], networkManager: false }
  for (const m of managers) {
    if (m.kind === 'NetworkManager') {
      await nmcli(ns, nic, false)
      out.networkManager = true
    } else if (m.kind === 'dhcp-client') {
      const id = await identityOf(m.pid)
      if (id) await stopProcess(id, CLIENT_GRACE_MS)
      out.dhcpClients.push({ program: m.program, argv: m.argv })
    }
  }
  return out
}

/**
 * A client starting up may first clear its interface (udhcpc's `deconfig`) and then lease again: wait
 * until the addresses are back, so that `up`/`down` return with the host reachable. If the client does not
 * bring them back in time (the LAN's server is away), `restore` puts them back statically; the client
 * keeps trying and takes over when the server answers.
 */
async function settle(present: () => Promise<boolean>, restore: () => Promise<void>): Promise<void> {
  const until = Date.now() + 10_000
  // Give the client a moment to run its start-up script before looking.
  await new Promise((r) => setTimeout(r, 50))
  while (Date.now() < until) {
    if (await present()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  await restore()
}

export interface AddressWatch {
  present: () => Promise<boolean>
  restore: () => Promise<void>
}

/** Runs the NIC's DHCP clients on the bridge (after the addresses moved there). */
export async function restartOnBridge(ns: NetnsRef | undefined, h: HandedOver, bridge: string, watch: AddressWatch): Promise<void> {
  for (const c of h.dhcpClients) c.bridge = await startDetached(ns, argvForInterface(c.argv, h.nic, bridge))
  if (h.dhcpClients.length > 0) await settle(watch.present, watch.restore)
}

/** 'stop': the bridge's clients end; 'restart': the NIC's own managers get it back. */
export async function giveBack(ns: NetnsRef | undefined, h: HandedOver, phase: 'stop' | 'restart', watch?: AddressWatch): Promise<void> {
  if (phase === 'stop') {
    for (const c of h.dhcpClients) if (c.bridge) await stopProcess(c.bridge, CLIENT_GRACE_MS)
    return
  }
  for (const c of h.dhcpClients) await startDetached(ns, c.argv)
  // NetworkManager is told after the clients run again, and a failure to tell it is reported then.
  const told = h.networkManager ? nmcli(ns, h.nic, true).then(() => undefined, (err: unknown) => err) : undefined
  if (h.dhcpClients.length > 0 && watch) await settle(watch.present, watch.restore)
  const failed = await told
  if (failed !== undefined) throw failed
}
