/**
 * Bandwidth: make the kernel's qdiscs, classes, filters and IFBs match shapingOf(plan). Only kvmnet's
 * own objects are touched: qdiscs and classes with the 4b51: handle on the network's own links, IFBs
 * tagged with the network's ifb alias. Rates change in place (`class replace`), so the tap, the guest's
 * lease and its connections stay; a device whose limits were removed loses its qdiscs; IFBs nobody
 * redirects to are deleted. The same comparison, without changes, is what status reports as drift.
 */
import { KvmnetError, ignoreNotFound, isExists } from '../../errors.js'
import { TC_H_INGRESS_HANDLE, type LinkInfo, type Rtnl, type QdiscInfo } from '../../rtnl/index.js'
import type { ApplyContext } from '../driver.js'
import type { NetworkPlan } from '../plan.js'
import { linkNamesOf } from '../kinds/plan-parts.js'
import { IFB_TXQUEUELEN, QOS_HANDLE, shapingOf, type DeviceShaping, type WantedClass, type WantedFilter } from '../kinds/bandwidth.js'
import { assertOurs, isHalfMade } from './links-common.js'

const TC_H_ROOT = 0xffffffff
const REDIRECT_PRIO = 1
/** Bytes of slack when comparing a burst: the kernel keeps it in 64 ns ticks. */
const BURST_SLACK = 64

/** One change to a device, and how to put back what it replaced (a rollback of a converge that failed later). */
type Change = { what: string; run: () => Promise<void>; undo?: () => Promise<void> }

function sameClass(w: WantedClass, have: { rate: number; ceil: number; burst: number; cburst: number } | undefined): boolean {
  if (!have) return false
  const near = (want: number | undefined, got: number): boolean => want === undefined || Math.abs(want - got) <= BURST_SLACK
  return have.rate === w.rate && have.ceil === w.ceil && near(w.burst, have.burst) && near(w.cburst, have.cburst)
}

const matchKey = (f: { prio: number; match?: unknown; flowid?: number | undefined; redirectTo?: number | undefined }): string =>
  JSON.stringify([f.prio, f.match, f.flowid ?? null, f.redirectTo ?? null])

/** The changes one device needs; reads its classes and filters only where kvmnet's qdisc is already there. */
async function deviceChanges(rtnl: Rtnl, d: DeviceShaping, link: LinkInfo, qdiscs: readonly QdiscInfo[], ifbIndex: (name: string) => number | undefined): Promise<Change[]> {
  const out: Change[] = []
  const dev = link.index
  const root = qdiscs.find((q) => q.dev === dev && q.parent === TC_H_ROOT)
  const ours = root?.kind === 'htb' && root.handle === QOS_HANDLE
  if (d.root) {
    const want = d.root
    if (root && !ours && root.handle >>> 16 !== 0)
      throw new KvmnetError(`${d.dev} carries a root qdisc kvmnet did not make (${root.kind} ${(root.handle >>> 16).toString(16)}:); remove it for bandwidth limits to apply`)
    if (!ours || root.defaultClass !== want.defaultClass)
      out.push({
        what: `${d.dev}: root htb`,
        run: () => rtnl.replaceQdisc({ kind: 'htb', dev, handle: QOS_HANDLE, defaultClass: want.defaultClass }),
        undo: ours ? () => rtnl.replaceQdisc({ kind: 'htb', dev, handle: QOS_HANDLE, defaultClass: root.defaultClass ?? want.defaultClass }) : () => rtnl.deleteQdisc(dev, 'root').catch(ignoreNotFound),
      })
    const classes = ours ? (await rtnl.listClasses(dev)).filter((c) => c.classid >>> 16 === QOS_HANDLE >>> 16) : []
    for (const w of want.classes) {
      const have = classes.find((c) => c.classid === w.classid)
      // A dump gives a class directly under the qdisc the parent "root" (ffffffff), not the qdisc's handle.
      const parent = have?.parent === TC_H_ROOT ? QOS_HANDLE : have?.parent
      const old = have?.htb
      if (!sameClass(w, old) || parent !== w.parent)
        out.push({
          what: `${d.dev}: class ${(w.classid & 0xffff).toString(16)}`,
          run: () => rtnl.replaceHtbClass({ dev, ...w }),
          // A class that was there gets its old rates back; a new one goes with its qdisc or is deleted.
          undo: old && parent !== undefined ? () => rtnl.replaceHtbClass({ dev, classid: w.classid, parent, ...old }) : () => rtnl.deleteClass(dev, w.classid).catch(ignoreNotFound),
        })
    }
    const filters = ours ? (await rtnl.listFilters(dev, QOS_HANDLE)).filter((f) => f.match !== undefined) : []
    const wantKeys = new Set(want.filters.map((f: WantedFilter) => matchKey(f)))
    if (filters.length !== want.filters.length || filters.some((f) => !wantKeys.has(matchKey(f)))) {
      const prios = new Set([...filters.map((f) => f.prio)])
      out.push({
        what: `${d.dev}: filters`,
        run: async () => {
          for (const p of prios) await rtnl.deleteFilters(dev, QOS_HANDLE, p).catch(ignoreNotFound)
          await Promise.all(want.filters.map((f) => rtnl.addU32Filter({ dev, parent: QOS_HANDLE, prio: f.prio, match: f.match, flowid: f.flowid })))
        },
        undo: async () => {
          for (const p of new Set([...prios, ...want.filters.map((f) => f.prio)])) await rtnl.deleteFilters(dev, QOS_HANDLE, p).catch(ignoreNotFound)
          for (const f of filters) if (f.match) await rtnl.addU32Filter({ dev, parent: QOS_HANDLE, prio: f.prio, match: f.match, flowid: f.flowid })
        },
      })
    }
    const wanted = new Set(want.classes.map((c) => c.classid))
    // Leaves before their parents: a class with children cannot be deleted.
    const top = (c: { parent: number }): boolean => c.parent === TC_H_ROOT || c.parent === QOS_HANDLE
    const stale = classes.filter((c) => !wanted.has(c.classid)).sort((a, b) => Number(top(a)) - Number(top(b)))
    for (const c of stale) out.push({ what: `${d.dev}: stale class ${(c.classid & 0xffff).toString(16)}`, run: () => rtnl.deleteClass(dev, c.classid).catch(ignoreNotFound) })
  } else if (ours) {
    out.push({ what: `${d.dev}: remove root htb`, run: () => rtnl.deleteQdisc(dev, 'root').catch(ignoreNotFound) })
  }

  const ingress = qdiscs.find((q) => q.dev === dev && q.kind === 'ingress')
  if (d.redirectTo !== undefined) {
    const target = ifbIndex(d.redirectTo)
    const filters = ingress ? (await rtnl.listFilters(dev, TC_H_INGRESS_HANDLE)).filter((f) => f.match !== undefined) : []
    const right = target !== undefined && filters.length === 1 && filters[0]!.prio === REDIRECT_PRIO && filters[0]!.redirectTo === target && 'all' in filters[0]!.match!
    if (!ingress) out.push({ what: `${d.dev}: ingress`, run: () => rtnl.replaceQdisc({ kind: 'ingress', dev }), undo: () => rtnl.deleteQdisc(dev, 'ingress').catch(ignoreNotFound) })
    if (!right)
      out.push({
        what: `${d.dev}: redirect to ${d.redirectTo}`,
        run: async () => {
          for (const p of new Set(filters.map((f) => f.prio))) await rtnl.deleteFilters(dev, TC_H_INGRESS_HANDLE, p).catch(ignoreNotFound)
          const to = ifbIndex(d.redirectTo!) ?? (await rtnl.getLink(d.redirectTo!)).index
          await rtnl.addU32Filter({ dev, parent: TC_H_INGRESS_HANDLE, prio: REDIRECT_PRIO, match: { all: true }, redirectTo: to })
        },
      })
  } else if (ingress && link.kind !== 'bridge') {
    // A port's ingress qdisc is kvmnet's (the tap is); the bridge's is never touched.
    out.push({ what: `${d.dev}: remove ingress`, run: () => rtnl.deleteQdisc(dev, 'ingress').catch(ignoreNotFound) })
  }
  return out
}

/** What differs between the kernel and the plan's limits, as short descriptions (status: drift). */
export async function bandwidthDrift(rtnl: Rtnl, plan: NetworkPlan): Promise<string[]> {
  const want = shapingOf(plan)
  const links = new Map((await rtnl.listLinks()).map((l) => [l.name, l]))
  const qdiscs = await rtnl.listQdiscs()
  const out: string[] = []
  for (const ifb of want.ifbs) if (!links.has(ifb)) out.push(`${ifb}: IFB missing`)
  for (const d of want.devices) {
    const link = links.get(d.dev)
    if (!link) continue
    for (const c of await deviceChanges(rtnl, d, link, qdiscs, (n) => links.get(n)?.index)) out.push(`bandwidth: ${c.what}`)
  }
  return out
}

export async function ensureBandwidth(ctx: ApplyContext, plan: NetworkPlan): Promise<void> {
  const { rtnl, tx } = ctx
  const want = shapingOf(plan)
  const shaped = want.devices.some((d) => d.root || d.redirectTo)
  const first = plan.ports.findIndex((p) => p.kind === 'tap' && p.bandwidth)
  if (shaped) await rtnl.probeShaping(first >= 0 ? `ports[${first}].bandwidth` : 'bandwidth')
  const owner = { group: plan.group, names: linkNamesOf(plan) }
  const members = await rtnl.listLinks({ group: plan.group })
  const ourIfbs = members.filter((l) => l.kind === 'ifb' && (l.alias === plan.alias.ifb || isHalfMade(l, owner)))
  const links = new Map(members.map((l) => [l.name, l]))

  const missing = want.ifbs.filter((n) => !links.has(n))
  if (missing.length > 0) {
    await tx.step({ name: 'ifbs', detail: String(missing.length) }, 'links', async (s) => {
      const made: string[] = []
      s.onUndo(() => Promise.all(made.map((n) => rtnl.deleteLink(n).catch(ignoreNotFound))).then(() => undefined))
      await Promise.all(
        missing.map(async (name) => {
          try {
            links.set(name, await rtnl.addLink({ kind: 'ifb', name, group: plan.group, alias: plan.alias.ifb, txQueueLen: IFB_TXQUEUELEN, up: true }))
            made.push(name)
          } catch (err) {
            // The name is taken outside the network's group: adopt it only if it is this network's.
            const taken = isExists(err) ? await rtnl.findLink(name) : undefined
            if (!taken) throw err
            assertOurs(taken, plan.alias.ifb, 'ports', owner)
            links.set(name, taken)
          }
        }),
      )
      s.outcome('created')
    })
  }
  for (const d of want.devices) if (!links.has(d.dev)) {
    const l = await rtnl.findLink(d.dev)
    if (l) links.set(d.dev, l)
  }

  const qdiscs = await rtnl.listQdiscs()
  const changes = (
    await Promise.all(want.devices.filter((d) => links.has(d.dev)).map((d) => deviceChanges(rtnl, d, links.get(d.dev)!, qdiscs, (n) => links.get(n)?.index)))
  ).flat()
  if (changes.length > 0) {
    await tx.step({ name: 'bandwidth', detail: String(changes.length) }, 'links', async (s) => {
      // In order per device (qdisc before its classes, filters before stale classes); devices at once.
      const byDev = new Map<string, Change[]>()
      for (const c of changes) {
        const dev = c.what.slice(0, c.what.indexOf(':'))
        byDev.set(dev, [...(byDev.get(dev) ?? []), c])
      }
      const done = new Map<string, Change[]>()
      // Undone in reverse per device (a class before the qdisc it was added to). A removed qdisc or class is
      // not brought back: the next up makes it again.
      s.onUndo(async () => {
        await Promise.all([...done.values()].map(async (list) => {
          for (const c of [...list].reverse()) await c.undo?.()
        }))
      })
      await Promise.all(
        [...byDev.entries()].map(async ([dev, list]) => {
          done.set(dev, [])
          for (const c of list) {
            await c.run()
            done.get(dev)!.push(c)
          }
        }),
      )
    })
  }
  const stale = ourIfbs.filter((l) => !want.ifbs.includes(l.name))
  if (stale.length > 0) {
    await tx.step({ name: 'remove-ifbs', detail: String(stale.length) }, 'links', async (s) => {
      await Promise.all(stale.map((l) => rtnl.deleteLink(l.index).catch(ignoreNotFound)))
      s.outcome('removed')
    })
  }
}
