/**
 * The kvmnet network under a CNI configuration, in the namespace the plugin runs in (the host's, unless
 * the spec names one). The first ADD on a host brings it up from the configuration's spec; every later
 * command opens it from its recorded state (which holds the attachments' reservations and forwards).
 * dnsmasq is detached: it outlives the short-lived plugin process, and no owner is recorded, so kvmnet's
 * own gc leaves the network alone. Writers queue on the network's lock rather than fail (a pod storm).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { NotFoundError, WouldRemoveError } from '../errors.js'
import { acquireLock, type LockHandle } from '../lock/index.js'
import { createNetwork, openNetwork, type Network, type NetworkOptions } from '../network/index.js'
import { parseAlias } from '../network/index.js'
import type { CniConfig } from './config.js'
import { CniCode, CniError } from './errors.js'
import { attachmentAlias, type AttachmentKey } from './identity.js'
import type { NetworkFacts } from './links.js'
import { ownerMarker, recordsDir } from './records.js'

/** How long a command waits for the network's lock before answering "try again later" (11). */
export const LOCK_WAIT_MS = 120_000

export function networkOptions(cfg: Pick<CniConfig, 'stateRoot' | 'spec'>): NetworkOptions {
  return { stateRoot: cfg.stateRoot, dnsmasq: 'detached', lockTimeoutMs: LOCK_WAIT_MS, ...(cfg.spec.netns ? { netns: cfg.spec.netns } : {}) }
}

/** The network if it is up (has state), else undefined. */
export async function openIfUp(cfg: Pick<CniConfig, 'stateRoot' | 'spec'>): Promise<Network | undefined> {
  try {
    return await openNetwork(cfg.spec.name, networkOptions(cfg))
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}

/**
 * The network, brought up from the configuration's spec when it is not up yet. The first ADDs of a pod
 * storm all find it down: they queue on a bring-up lock beside the network's own (removed when released),
 * so one of them brings it up and the others only open it — rather than each running a full `up` in turn
 * on the network's lock (a converge that changes nothing, or refuses with WouldRemoveError once the
 * first reservation is there).
 */
export async function ensureUp(cfg: Pick<CniConfig, 'stateRoot' | 'spec'>): Promise<Network> {
  const open = await openIfUp(cfg)
  if (open) return open
  const net = createNetwork(cfg.spec, networkOptions(cfg))
  let lock: LockHandle | undefined
  try {
    lock = await acquireLock(`${net.stateDir}.cni-up.lock`, { timeoutMs: LOCK_WAIT_MS, what: `bring-up of network ${net.name}` })
    const meanwhile = await openIfUp(cfg)
    if (meanwhile) {
      net.close()
      return meanwhile
    }
    await net.up()
    await mkdir(recordsDir(net.stateDir), { recursive: true, mode: 0o755 })
    await writeFile(ownerMarker(net.stateDir), `${new Date().toISOString()}\n`)
    return net
  } catch (err) {
    net.close()
    // Brought up by someone else's `up` (kvmnet up, another runtime) between the two looks.
    if (err instanceof WouldRemoveError) {
      const again = await openIfUp(cfg)
      if (again) return again
    }
    throw err
  } finally {
    lock?.release({ remove: true })
  }
}

/** What an attachment needs to know about the network, from its plan (the recorded spec's). */
export function networkFacts(net: Network, k: AttachmentKey): NetworkFacts & { nameserver: string | undefined; domain: string | undefined } {
  const plan = net.plan
  const dns = 'dnsmasq' in plan ? plan.dnsmasq : undefined
  const bridge = net.bridge
  if (!bridge || !dns?.dhcp) throw new CniError(CniCode.InvalidConfig, 'invalid network configuration', `network ${net.name} has no bridge with a DHCP range (mode ${net.mode})`)
  const root = parseAlias(plan.alias.port)?.root ?? ''
  return {
    bridge,
    group: plan.group,
    alias: attachmentAlias(k, root),
    mtu: plan.mtu,
    prefixLength: Number(dns.subnet.split('/')[1]),
    gateway: dns.dhcp.router === false ? undefined : (dns.dhcp.router ?? dns.hostAddress),
    nameserver: dns.dns ? dns.hostAddress : undefined,
    domain: dns.dns ? dns.dns.domain : undefined,
  }
}
