/**
 * GC (CNI 1.1): the runtime names the attachments that are still valid; every other attachment of the
 * network — by its record, or by a host link tagged as an attachment with no record — is released (links,
 * reservation, forwards) in one apply. When no attachment is left and kvmnet-cni brought the network up
 * itself, the network is taken down (bridge, nft table, dnsmasq, state): the next ADD brings it up again.
 * A network an operator brought up (`kvmnet up`) stays. Errors do not stop the sweep; they are reported.
 */
import { existsSync } from 'node:fs'
import { Rtnl } from '../rtnl/index.js'
import { isAttachmentOf, parseAlias } from '../network/index.js'
import type { CniConfig, CniNetworkSpec } from './config.js'
import { detachEdit } from './edits.js'
import { CniCode, CniError } from './errors.js'
import type { AttachmentKey } from './identity.js'
import { detachLinks } from './links.js'
import { networkFacts, openIfUp } from './network.js'
import { listRecords, ownerMarker, removeRecord, type AttachmentRecord } from './records.js'
import { containerNsIfThere } from './sandbox.js'
import { clearAbandonedBringUp } from './bring-up.js'

export async function gcAttachments(cfg: CniConfig): Promise<void> {
  const net = await openIfUp(cfg)
  if (!net) return clearAbandonedBringUp(cfg)
  let wentDown = false
  const errors: string[] = []
  try {
    const valid = new Set((cfg.validAttachments ?? []).map((a) => `${a.containerID}:${a.ifname}`))
    const records = await listRecords(net.stateDir)
    const stale = records.filter((r) => !valid.has(`${r.containerId}:${r.ifname}`))
    const key = (r: Pick<AttachmentRecord, 'containerId' | 'ifname'>): AttachmentKey => ({ network: net.name, containerId: r.containerId, ifname: r.ifname })
    const host = Rtnl.open(net.ns)
    try {
      for (const r of stale) {
        const ns = containerNsIfThere(r.netns, cfg.spec)
        const cont = ns ? Rtnl.open(ns) : undefined
        try {
          const f = networkFacts(net, key(r))
          await detachLinks(host, cont, key(r), f.alias, f.group)
        } catch (err) {
          errors.push(`${r.containerId}/${r.ifname}: ${(err as Error).message}`)
        } finally {
          cont?.close()
        }
      }
      // Host ends with an attachment alias but no record (a crash between the two): removed as well.
      const bridge = net.bridge
      const ends = bridge && (await host.findLink(bridge)) ? await host.listLinks({ master: bridge }) : []
      for (const l of ends) {
        if (!isAttachmentOf(l.alias, net.plan.alias.port)) continue
        const [, containerId, ifname] = (parseAlias(l.alias)?.role ?? '').split('/')
        if (!containerId || !ifname || valid.has(`${containerId}:${ifname}`)) continue
        await host.deleteLink(l.index).catch((err: unknown) => errors.push(`${l.name}: ${(err as Error).message}`))
      }
    } finally {
      host.close()
    }
    if (stale.length > 0) {
      try {
        await net.update((spec, runtime) => {
          let next: ReturnType<typeof detachEdit> = undefined
          let [s, rt] = [spec as CniNetworkSpec, runtime]
          for (const r of stale) {
            const edited = detachEdit(s, rt, { mac: r.mac, ip: r.ip })
            if (!edited) continue
            next = edited
            ;[s, rt] = [edited[0] as CniNetworkSpec, edited[1]]
          }
          return next
        })
        for (const r of stale) await removeRecord(net.stateDir, r)
      } catch (err) {
        errors.push(`reservations: ${(err as Error).message}`)
      }
    }
    const left = (await listRecords(net.stateDir)).length
    if (left === 0 && errors.length === 0 && existsSync(ownerMarker(net.stateDir))) {
      await net.down()
      wentDown = true
    }
  } finally {
    net.close()
  }
  // A bring-up lock a killed ADD left beside the state directory.
  if (wentDown) await clearAbandonedBringUp(cfg)
  if (errors.length > 0) throw new CniError(CniCode.Internal, 'GC left some attachments', errors.join('; '))
}
