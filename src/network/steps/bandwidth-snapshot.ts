/**
 * What kvmnet's shaping on one device was before a converge changed it, and how to put it back whole: a
 * converge that fails later rolls back to it (a removed qdisc with its classes and filters, a removed
 * ingress redirect, a deleted IFB are made again; changed rates get their old values). Only kvmnet's own
 * objects are read (the 4b51: qdisc and its classes, a port's ingress), so only those are put back.
 */
import { ignoreNotFound } from '../../errors.js'
import { TC_H_INGRESS_HANDLE, type ClassInfo, type FilterInfo, type LinkInfo, type QdiscInfo, type Rtnl, type U32Match } from '../../rtnl/index.js'
import { QOS_HANDLE } from '../kinds/bandwidth.js'

const TC_H_ROOT = 0xffffffff

/** The part of a device's shaping a change touches: its root HTB (with classes and filters) or its ingress redirect. */
export type ShapingPart = 'root' | 'ingress'

type SavedClass = { classid: number; parent: number; htb: NonNullable<ClassInfo['htb']> }

export interface DeviceSnapshot {
  /** By name: a device made again (an IFB) has a new index. */
  dev: string
  root?: { defaultClass: number; classes: SavedClass[]; filters: { prio: number; match: U32Match; flowid?: number | undefined }[] } | undefined
  /** Present when the device had an ingress qdisc; redirectTo names the IFB it sent its traffic to. */
  ingress?: { redirectTo?: string | undefined } | undefined
}

/** kvmnet's classes of a root HTB, read by the converge anyway; the snapshot keeps them. */
export function rootSnapshot(root: QdiscInfo | undefined, classes: readonly ClassInfo[], filters: readonly FilterInfo[]): DeviceSnapshot['root'] {
  if (root?.kind !== 'htb' || root.handle !== QOS_HANDLE) return undefined
  return {
    defaultClass: root.defaultClass ?? 1,
    // A dump gives a class directly under the qdisc the parent "root" (ffffffff), not the qdisc's handle.
    classes: classes.flatMap((c) => (c.htb ? [{ classid: c.classid, parent: c.parent === TC_H_ROOT ? QOS_HANDLE : c.parent, htb: c.htb }] : [])),
    filters: filters.filter((f): f is FilterInfo & { match: U32Match } => f.match !== undefined).map((f) => ({ prio: f.prio, match: f.match, flowid: f.flowid })),
  }
}

/** The ingress part: the IFB the redirect pointed at, named through the links known now. */
export async function ingressSnapshot(
  ingress: QdiscInfo | undefined,
  filters: readonly FilterInfo[],
  nameOf: (index: number) => Promise<string | undefined>,
): Promise<DeviceSnapshot['ingress']> {
  if (!ingress) return undefined
  const to = filters.find((f) => f.redirectTo !== undefined)?.redirectTo
  return { redirectTo: to === undefined ? undefined : await nameOf(to) }
}

/** Reads a device's whole snapshot (for an IFB about to be deleted: nothing else read it). */
export async function readSnapshot(rtnl: Rtnl, link: LinkInfo, qdiscs: readonly QdiscInfo[]): Promise<DeviceSnapshot> {
  const root = qdiscs.find((q) => q.dev === link.index && q.parent === TC_H_ROOT)
  const ours = root?.kind === 'htb' && root.handle === QOS_HANDLE
  const classes = ours ? (await rtnl.listClasses(link.index)).filter((c) => c.classid >>> 16 === QOS_HANDLE >>> 16) : []
  const filters = ours ? await rtnl.listFilters(link.index, QOS_HANDLE) : []
  return { dev: link.name, root: rootSnapshot(root, classes, filters) }
}

/** Puts the touched parts of a device back as the snapshot has them (removing what the converge added). */
export async function restoreSnapshot(rtnl: Rtnl, s: DeviceSnapshot, parts: ReadonlySet<ShapingPart>): Promise<void> {
  const link = await rtnl.findLink(s.dev)
  if (!link) return
  const dev = link.index
  // Only what is there is deleted: the kernel refuses to delete an absent ingress qdisc with EINVAL.
  const present = (await rtnl.listQdiscs()).filter((q) => q.dev === dev)
  if (parts.has('root')) {
    if (present.some((q) => q.parent === TC_H_ROOT && q.kind === 'htb' && q.handle === QOS_HANDLE)) await rtnl.deleteQdisc(dev, 'root').catch(ignoreNotFound)
    if (s.root) {
      await rtnl.replaceQdisc({ kind: 'htb', dev, handle: QOS_HANDLE, defaultClass: s.root.defaultClass })
      // Parents before their children.
      const placed = new Set<number>([QOS_HANDLE])
      let left = [...s.root.classes]
      while (left.length > 0) {
        const ready = left.filter((c) => placed.has(c.parent))
        if (ready.length === 0) break
        for (const c of ready) {
          await rtnl.replaceHtbClass({ dev, classid: c.classid, parent: c.parent, ...c.htb })
          placed.add(c.classid)
        }
        left = left.filter((c) => !placed.has(c.classid))
      }
      for (const f of s.root.filters) await rtnl.addU32Filter({ dev, parent: QOS_HANDLE, prio: f.prio, match: f.match, flowid: f.flowid })
    }
  }
  if (parts.has('ingress')) {
    if (present.some((q) => q.kind === 'ingress')) await rtnl.deleteQdisc(dev, 'ingress').catch(ignoreNotFound)
    if (s.ingress) {
      await rtnl.replaceQdisc({ kind: 'ingress', dev })
      const to = s.ingress.redirectTo === undefined ? undefined : await rtnl.findLink(s.ingress.redirectTo)
      if (to) await rtnl.addU32Filter({ dev, parent: TC_H_INGRESS_HANDLE, prio: 1, match: { all: true }, redirectTo: to.index })
    }
  }
}
