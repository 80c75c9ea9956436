/**
 * DEL: remove the attachment's links and give back its reservation and forwards — idempotent and
 * best-effort: a second DEL, a DEL after the container's namespace was deleted, or one for a network that
 * is no longer up all succeed. The network itself stays up after its last attachment (GC with no valid
 * attachment left takes a network kvmnet-cni brought up down). prevResult is not consulted: what DEL
 * releases comes from the attachment's record.
 */
import { Rtnl } from '../rtnl/index.js'
import { createNetwork, type Network } from '../network/index.js'
import type { CniConfig, CniNetworkSpec } from './config.js'
import { detachEdit } from './edits.js'
import type { AttachmentEnv } from './env.js'
import { attachmentMac, type AttachmentKey } from './identity.js'
import { detachLinks } from './links.js'
import { networkFacts, networkOptions, openIfUp } from './network.js'
import { readRecord, removeRecord, type AttachmentRecord } from './records.js'
import { containerNsIfThere } from './sandbox.js'
import { clearAbandonedBringUp } from './bring-up.js'
import { preloadLibnftables } from '../nft/index.js'

/**
 * Links, then reservation and forwards (one apply, none when there is nothing left), then the record.
 * Only what is provably this attachment's is released: its links by their alias; the reservation and
 * forwards by its record — without one (a repeated DEL, a DEL for an ADD that never ran) only a
 * reservation for the MAC derived from the attachment itself, never an address a prevResult names (it
 * may have been handed to another pod since) nor a MAC the runtime passed.
 */
async function release(net: Network, cfg: CniConfig, k: AttachmentKey, record: AttachmentRecord | undefined, netns: string | undefined): Promise<void> {
  const f = networkFacts(net, k)
  // Its forwards go through libnftables: loaded on the pool while the links are removed (see add.ts).
  if (record?.forwards?.length) preloadLibnftables()
  // CNI_NETNS, else (gone, or no namespace: an unmounted pin) the one ADD recorded; in either, only links
  // carrying this attachment's alias are removed.
  const contNs = containerNsIfThere(netns, cfg.spec) ?? containerNsIfThere(record?.netns, cfg.spec)
  const host = Rtnl.open(net.ns)
  const cont = contNs ? Rtnl.open(contNs) : undefined
  try {
    await detachLinks(host, cont, k, f.alias, f.group)
  } finally {
    host.close()
    cont?.close()
  }
  const mac = record ? record.mac : cfg.mac === undefined ? attachmentMac(k) : undefined
  // The attachment is going: nobody will ask dnsmasq for its reservation again, so nobody waits for the reload.
  await net.update((spec, runtime) => detachEdit(spec as CniNetworkSpec, runtime, { mac, ip: record?.ip }), { dnsmasqReload: 'signal' })
  await removeRecord(net.stateDir, k)
}

export async function del(cfg: CniConfig, e: AttachmentEnv): Promise<void> {
  const k: AttachmentKey = { network: cfg.spec.name, containerId: e.containerId, ifname: e.ifname }
  const net = await openIfUp(cfg)
  if (!net) {
    // No network: its links went with it; a container end left in a live namespace is still removed.
    await removeContainerSide(cfg, k, e.netns)
    // Nor a network whose bring-up was killed before it journalled anything: its marker and lock go.
    await clearAbandonedBringUp(cfg)
    return
  }
  try {
    await release(net, cfg, k, await readRecord(net.stateDir, k), e.netns)
  } finally {
    net.close()
  }
}

async function removeContainerSide(cfg: CniConfig, k: AttachmentKey, netns: string | undefined): Promise<void> {
  const contNs = containerNsIfThere(netns, cfg.spec)
  if (!contNs) return
  // The handle is only for the alias (its plan): nothing is touched through it.
  const planned = createNetwork(cfg.spec, networkOptions(cfg))
  const cont = Rtnl.open(contNs)
  try {
    await detachLinks(undefined, cont, k, networkFacts(planned, k).alias, undefined)
  } finally {
    cont.close()
    planned.close()
  }
}
