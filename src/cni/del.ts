/**
 * DEL: remove the attachment's links and give back its reservation and forwards — idempotent and
 * best-effort: a second DEL, a DEL after the container's namespace was deleted, or one for a network that
 * is no longer up all succeed. The network itself stays up after its last attachment (GC with no valid
 * attachment left takes a network kvmnet-cni brought up down).
 */
import { Netns } from '../netns/index.js'
import { Rtnl } from '../rtnl/index.js'
import { createNetwork, type Network } from '../network/index.js'
import type { CniConfig, CniNetworkSpec } from './config.js'
import { detachEdit } from './edits.js'
import type { AttachmentEnv } from './env.js'
import { attachmentMac, type AttachmentKey } from './identity.js'
import { detachLinks } from './links.js'
import { networkFacts, networkOptions, openIfUp } from './network.js'
import { readRecord, removeRecord, type AttachmentRecord } from './records.js'

/** The container namespace if it is still there (DEL may come after the runtime deleted it). */
function containerNsIfThere(path: string | undefined): Netns | undefined {
  if (!path) return undefined
  try {
    return Netns.open(path)
  } catch {
    return undefined
  }
}

/** The address an earlier ADD answered for this interface (prevResult), when there is no record. */
function addressFromPrev(prev: unknown, ifname: string): string | undefined {
  const p = prev as { interfaces?: { name?: string }[]; ips?: { address?: string; interface?: number }[] } | undefined
  const idx = p?.interfaces?.findIndex((i) => i.name === ifname) ?? -1
  const ip = p?.ips?.find((i) => i.interface === idx && typeof i.address === 'string')?.address
  return ip?.split('/')[0]
}

/** Links, then reservation and forwards (one apply, none when there is nothing left), then the record. */
export async function release(net: Network, k: AttachmentKey, what: { record?: AttachmentRecord | undefined; mac: string; ip: string | undefined; netns: string | undefined }): Promise<void> {
  const f = networkFacts(net, k)
  const contNs = containerNsIfThere(what.netns ?? what.record?.netns)
  const host = Rtnl.open(net.ns)
  const cont = contNs ? Rtnl.open(contNs) : undefined
  try {
    await detachLinks(host, cont, k, f.alias, f.group)
  } finally {
    host.close()
    cont?.close()
  }
  await net.update((spec, runtime) => detachEdit(spec as CniNetworkSpec, runtime, { mac: what.mac, ip: what.ip }))
  await removeRecord(net.stateDir, k)
}

export async function del(cfg: CniConfig, e: AttachmentEnv): Promise<void> {
  const k: AttachmentKey = { network: cfg.spec.name, containerId: e.containerId, ifname: e.ifname }
  const net = await openIfUp(cfg)
  if (!net) {
    // No network: its links went with it; a container end left in a live namespace is still removed.
    await removeContainerSide(cfg, k, e.netns)
    return
  }
  try {
    const record = await readRecord(net.stateDir, k)
    await release(net, k, {
      record,
      mac: record?.mac ?? cfg.mac ?? attachmentMac(k),
      ip: record?.ip ?? addressFromPrev(cfg.prevResult, e.ifname),
      netns: e.netns,
    })
  } finally {
    net.close()
  }
}

async function removeContainerSide(cfg: CniConfig, k: AttachmentKey, netns: string | undefined): Promise<void> {
  const contNs = containerNsIfThere(netns)
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
