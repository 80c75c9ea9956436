/**
 * The kvmnet network under a CNI configuration, in the namespace the plugin runs in (the host's, unless
 * the spec names one). The first ADD on a host brings it up from the configuration's spec; every later
 * command opens it from its recorded state (which holds the attachments' reservations and forwards).
 * dnsmasq is detached: it outlives the short-lived plugin process, and no owner is recorded, so kvmnet's
 * own gc leaves the network alone. Writers queue on the network's lock rather than fail (a pod storm).
 */
import { NotFoundError } from '../errors.js'
import { openNetwork, type Network, type NetworkOptions } from '../network/index.js'
import { dnsmasqOf, parseAlias } from '../network/index.js'
import type { CniConfig } from './config.js'
import { CniCode, CniError } from './errors.js'
import { attachmentAlias, type AttachmentKey } from './identity.js'
import type { NetworkFacts } from './links.js'

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

/** What an attachment needs to know about the network, from its plan (the recorded spec's). */
export function networkFacts(net: Network, k: AttachmentKey): NetworkFacts & { nameserver: string | undefined; domain: string | undefined } {
  const plan = net.plan
  const dns = dnsmasqOf(plan)
  const bridge = net.bridge
  if (!bridge || !dns?.dhcp || dns.subnet === undefined) throw new CniError(CniCode.InvalidConfig, 'invalid network configuration', `network ${net.name} has no bridge with a DHCP range (mode ${net.mode})`)
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
