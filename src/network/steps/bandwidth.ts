/**
 * Bandwidth: make the kernel's qdiscs, classes, filters and IFBs match shapingOf(plan). Only kvmnet's
 * own objects are touched: qdiscs and classes with the 4b51: handle on the network's own links, IFBs
 * tagged with the network's ifb alias. Rates change in place (`class replace`), so the tap, the guest's
 * lease and its connections stay; a device whose limits were removed loses its qdiscs; IFBs nobody
 * redirects to are deleted. The same comparison, without changes, is what status reports as drift. A
 * converge that fails later puts every touched device back from a snapshot (bandwidth-snapshot.ts).
 */
import { KvmnetError, ignoreNotFound, isExists } from '../../errors.js'
import { TC_H_INGRESS_HANDLE, type LinkInfo, type Rtnl, type QdiscInfo } from '../../rtnl/index.js'
import type { ApplyContext } from '../driver.js'
import type { NetworkPlan } from '../plan.js'
import type { NetworkSpec } from '../spec.js'
import { linkNamesOf } from '../kinds/plan-parts.js'
import { IFB_TXQUEUELEN, QOS_HANDLE, shapingOf, type DeviceShaping, type WantedClass, type WantedFilter } from '../kinds/bandwidth.js'
import { assertOurs, isHalfMade } from './links-common.js'
import { ingressSnapshot, readSnapshot, restoreSnapshot, rootSnapshot, type DeviceSnapshot, type ShapingPart } from './bandwidth-snapshot.js'

const TC_H_ROOT = 0xffffffff
const REDIRECT_PRIO = 1
/** Bytes of slack when comparing a burst: the kernel keeps it in 64 ns ticks. */
const BURST_SLACK = 64

/**
 * One change to a device, and which part of its shaping it touches (put back from the snapshot on
 * rollback). `run` puts every request of the change on the socket before it returns (no wait between
 * them): the kernel runs one socket's requests in the order they were sent, so the changes of every
 * device go out in one pass, in order, and are answered together.
 */
type Change = { what: string; part: ShapingPart; run: () => Promise<unknown> }

function sameClass(w: WantedClass, have: { rate: number; ceil: number; burst: number; cburst: number } | undefined): boolean {
  if (!have) return false
  const near = (want: number | undefined, got: number): boolean => want === undefined || Math.abs(want - got) <= BURST_SLACK
  return have.rate === w.rate && have.ceil === w.ceil && near(w.burst, have.burst) && near(w.cburst, have.cburst)
}

const matchKey = (f: { prio: number; match?: unknown; flowid?: number | undefined; redirectTo?: number | undefined }): string =>
  JSON.stringify([f.prio, f.match, f.flowid ?? null, f.redirectTo ?? null])

/**
 * The changes one device needs, and a snapshot of what it has now; reads its classes and filters only
 * where kvmnet's qdisc is already there.
 */
async function deviceChanges(
  rtnl: Rtnl,
  d: DeviceShaping,
  link: LinkInfo,
  /** The device's own qdiscs. */
  qdiscs: readonly QdiscInfo[],
  links: LinkNames,
): Promise<{ changes: Change[]; snapshot: DeviceSnapshot }> {
  const out: Change[] = []
  const dev = link.index
  const root = qdiscs.find((q) => q.dev === dev && q.parent === TC_H_ROOT)
  const ours = root?.kind === 'htb' && root.handle === QOS_HANDLE
  if (d.root && root && !ours && root.handle >>> 16 !== 0)
    throw new KvmnetError(`${d.dev} carries a root qdisc kvmnet did not make (${root.kind} ${(root.handle >>> 16).toString(16)}:); remove it for bandwidth limits to apply`)
  const classes = ours ? (await rtnl.listClasses(dev)).filter((c) => c.classid >>> 16 === QOS_HANDLE >>> 16) : []
  const filters = ours ? (await rtnl.listFilters(dev, QOS_HANDLE)).filter((f) => f.match !== undefined) : []
  if (d.root) {
    const want = d.root
    if (!ours || root.defaultClass !== want.defaultClass)
      out.push({ what: `${d.dev}: root htb`, part: 'root', run: () => rtnl.replaceQdisc({ kind: 'htb', dev, handle: QOS_HANDLE, defaultClass: want.defaultClass }) })
    for (const w of want.classes) {
      const have = classes.find((c) => c.classid === w.classid)
      // A dump gives a class directly under the qdisc the parent "root" (ffffffff), not the qdisc's handle.
      const parent = have?.parent === TC_H_ROOT ? QOS_HANDLE : have?.parent
      if (!sameClass(w, have?.htb) || parent !== w.parent)
        out.push({ what: `${d.dev}: class ${(w.classid & 0xffff).toString(16)}`, part: 'root', run: () => rtnl.replaceHtbClass({ dev, ...w }) })
    }
    const wantKeys = new Set(want.filters.map((f: WantedFilter) => matchKey(f)))
    if (filters.length !== want.filters.length || filters.some((f) => !wantKeys.has(matchKey(f)))) {
      const prios = new Set([...filters.map((f) => f.prio)])
      out.push({
        what: `${d.dev}: filters`,
        part: 'root',
        run: () =>
          Promise.all([
            ...[...prios].map((p) => rtnl.deleteFilters(dev, QOS_HANDLE, p).catch(ignoreNotFound)),
            ...want.filters.map((f) => rtnl.addU32Filter({ dev, parent: QOS_HANDLE, prio: f.prio, match: f.match, flowid: f.flowid })),
          ]),
      })
    }
    const wanted = new Set(want.classes.map((c) => c.classid))
    // Leaves before their parents: a class with children cannot be deleted.
    const top = (c: { parent: number }): boolean => c.parent === TC_H_ROOT || c.parent === QOS_HANDLE
    const stale = classes.filter((c) => !wanted.has(c.classid)).sort((a, b) => Number(top(a)) - Number(top(b)))
    for (const c of stale) out.push({ what: `${d.dev}: stale class ${(c.classid & 0xffff).toString(16)}`, part: 'root', run: () => rtnl.deleteClass(dev, c.classid).catch(ignoreNotFound) })
  } else if (ours) {
    out.push({ what: `${d.dev}: remove root htb`, part: 'root', run: () => rtnl.deleteQdisc(dev, 'root').catch(ignoreNotFound) })
  }

  const ingress = qdiscs.find((q) => q.dev === dev && q.kind === 'ingress')
  // A port's ingress qdisc is kvmnet's (the tap is); the bridge's is never touched, nor read.
  const redirects = ingress && link.kind !== 'bridge' ? (await rtnl.listFilters(dev, TC_H_INGRESS_HANDLE)).filter((f) => f.match !== undefined) : []
  if (d.redirectTo !== undefined) {
    const target = links.indexOf(d.redirectTo)
    const right = target !== undefined && redirects.length === 1 && redirects[0]!.prio === REDIRECT_PRIO && redirects[0]!.redirectTo === target && 'all' in redirects[0]!.match!
    if (!ingress) out.push({ what: `${d.dev}: ingress`, part: 'ingress', run: () => rtnl.replaceQdisc({ kind: 'ingress', dev }) })
    if (!right)
      out.push({
        what: `${d.dev}: redirect to ${d.redirectTo}`,
        part: 'ingress',
        run: async () => {
          const deleted = [...new Set(redirects.map((f) => f.prio))].map((p) => rtnl.deleteFilters(dev, TC_H_INGRESS_HANDLE, p).catch(ignoreNotFound))
          // The IFB is among the links read (made or adopted by this converge); looked up only if not.
          const to = target ?? (await rtnl.getLink(d.redirectTo!)).index
          await Promise.all([...deleted, rtnl.addU32Filter({ dev, parent: TC_H_INGRESS_HANDLE, prio: REDIRECT_PRIO, match: { all: true }, redirectTo: to })])
        },
      })
  } else if (ingress && link.kind !== 'bridge') {
    out.push({ what: `${d.dev}: remove ingress`, part: 'ingress', run: () => rtnl.deleteQdisc(dev, 'ingress').catch(ignoreNotFound) })
  }
  const snapshot: DeviceSnapshot = {
    dev: d.dev,
    root: rootSnapshot(root, classes, filters),
    ingress: link.kind === 'bridge' ? undefined : await ingressSnapshot(ingress, redirects, links.nameOf),
  }
  return { changes: out, snapshot }
}

/**
 * Waits for every request of a pass to be answered (a refused one does not leave the others running
 * under a rollback), then fails with the first refusal in the order they were sent: the cause, where
 * the ones after it on the same device fail only because it did.
 */
async function allAnswered(sent: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(sent)
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
}

/** Names of links both ways: an IFB a redirect points at is named by its index. */
type LinkNames = { indexOf(name: string): number | undefined; nameOf(index: number): Promise<string | undefined> }

/**
 * `links` by name and by index; an index not among them is looked up in `all` (every link of the
 * namespace), read only then: a converge whose ports redirect nowhere unexpected never dumps every link.
 */
function linkIndex(links: ReadonlyMap<string, LinkInfo>, all?: () => Promise<readonly LinkInfo[]>): LinkNames {
  let byIndex: Map<number, string> | undefined
  let everything: Promise<Map<number, string>> | undefined
  return {
    indexOf: (n) => links.get(n)?.index,
    async nameOf(i) {
      byIndex ??= new Map([...links.values()].map((l) => [l.index, l.name]))
      const known = byIndex.get(i)
      if (known !== undefined || !all) return known
      everything ??= all().then((list) => new Map(list.map((l) => [l.index, l.name])))
      return (await everything).get(i)
    },
  }
}

/** A namespace's qdiscs by device, so each device's are found without a scan of them all. */
function qdiscsByDev(qdiscs: readonly QdiscInfo[]): (dev: number) => readonly QdiscInfo[] {
  const by = new Map<number, QdiscInfo[]>()
  for (const q of qdiscs) {
    const list = by.get(q.dev)
    if (list) list.push(q)
    else by.set(q.dev, [q])
  }
  return (dev) => by.get(dev) ?? []
}

/** Past this many names not already read, one dump of every link is cheaper than a request each. */
const LOOKUPS_BEFORE_DUMP = 64

/** The links among `names`, taken from `known` (read by the caller in the same pass) and asked for the rest. */
async function linksNamed(rtnl: Rtnl, names: ReadonlySet<string>, known: ReadonlyMap<string, LinkInfo> | undefined): Promise<Map<string, LinkInfo>> {
  const out = new Map<string, LinkInfo>()
  const missing: string[] = []
  for (const n of names) {
    const l = known?.get(n)
    if (l) out.set(n, l)
    else missing.push(n)
  }
  if (missing.length > LOOKUPS_BEFORE_DUMP) {
    for (const l of await rtnl.listLinks()) if (names.has(l.name) && !out.has(l.name)) out.set(l.name, l)
  } else {
    // Requests issued in one turn go out together (rtnl's socket pipelines them).
    const found = await Promise.all(missing.map((n) => rtnl.findLink(n)))
    for (const l of found) if (l) out.set(l.name, l)
  }
  return out
}

/**
 * What differs between the kernel and the plan's limits, as short descriptions (status: drift). `known`:
 * links the caller read in this pass (status has the bridge and its ports), so only the rest are asked for.
 */
export async function bandwidthDrift(rtnl: Rtnl, plan: NetworkPlan, known?: ReadonlyMap<string, LinkInfo>): Promise<string[]> {
  const want = shapingOf(plan)
  const names = new Set([...want.ifbs, ...want.devices.flatMap((d) => (d.redirectTo === undefined ? [d.dev] : [d.dev, d.redirectTo]))])
  const links = await linksNamed(rtnl, names, known)
  const qdiscsOf = qdiscsByDev(await rtnl.listQdiscs())
  const index = linkIndex(links)
  const out: string[] = []
  for (const ifb of want.ifbs) {
    const l = links.get(ifb)
    // Down, it drops what the taps' ingress redirects to it: the guests' uploads.
    if (!l) out.push(`${ifb}: IFB missing`)
    else if (!l.up) out.push(`${ifb}: IFB down`)
  }
  for (const d of want.devices) {
    const link = links.get(d.dev)
    if (!link) continue
    for (const c of (await deviceChanges(rtnl, d, link, qdiscsOf(link.index), index)).changes) out.push(`bandwidth: ${c.what}`)
  }
  return out
}

/** Whether a spec asks for any limit (the network's or a port's). */
function specLimits(spec: NetworkSpec): boolean {
  return ('bandwidth' in spec && spec.bandwidth !== undefined) || (spec.ports ?? []).some((p) => p.bandwidth !== undefined)
}

export async function ensureBandwidth(ctx: ApplyContext, plan: NetworkPlan): Promise<void> {
  const { rtnl, tx } = ctx
  const want = shapingOf(plan)
  const shaped = want.devices.some((d) => d.root || d.redirectTo)
  // No limits now and none recorded before (the state's spec covers every earlier apply, one cut short
  // included: its journal holds the spec it was applying): nothing of kvmnet's can be on these devices,
  // so nothing to read — three dumps (every link twice, every qdisc) that a 1000-port network paid ~40 ms for.
  if (!shaped && want.ifbs.length === 0 && !(ctx.prev && specLimits(ctx.prev.spec))) return
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
            links.set(name, await rtnl.addLink({ kind: 'ifb', name, group: plan.group, alias: plan.alias.ifb, txQueueLen: IFB_TXQUEUELEN, up: false }))
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
  const qdiscsOf = qdiscsByDev(qdiscs)
  const index = linkIndex(links, () => rtnl.listLinks())
  const found = await Promise.all(want.devices.filter((d) => links.has(d.dev)).map((d) => deviceChanges(rtnl, d, links.get(d.dev)!, qdiscsOf(links.get(d.dev)!.index), index)))
  const changes = found.flatMap((f) => f.changes)
  // New IFBs and shaped taps are down (ensurePorts' raiseLater): a qdisc grafted onto a device that is up
  // makes the kernel deactivate the device and wait for an RCU grace period first — three times a port
  // with both limits. Raised once their qdiscs are on; so is one of ours found down (an apply cut short).
  const down = [...want.ifbs, ...plan.ports.filter((p) => p.kind === 'tap').map((p) => p.name)].flatMap((n) => {
    const l = links.get(n)
    return l && !l.up ? [l.index] : []
  })
  if (changes.length > 0 || down.length > 0) {
    await tx.step({ name: 'bandwidth', detail: String(changes.length) }, 'links', async (s) => {
      // A later failure puts each device's touched parts back as they were, whole (removed qdiscs,
      // classes and filters included), devices at once.
      const touched = new Map<string, Set<ShapingPart>>()
      s.onUndo(async () => {
        await Promise.all(found.filter((f) => touched.has(f.snapshot.dev)).map((f) => restoreSnapshot(rtnl, f.snapshot, touched.get(f.snapshot.dev)!)))
      })
      // One pass: each device's changes in their order (qdisc before its classes, filters before stale
      // classes), all sent at once and run by the kernel in that order. Awaited one by one they went out
      // ~600 datagrams for 100 shaped ports, each waiting for the one before. The devices are raised only
      // once every change is answered: raised in the same pass, right behind them, a port's uploads were
      // at times never redirected to the network's IFB (network-bandwidth's outbound cap test, 2 runs in 3).
      const sent: Promise<unknown>[] = []
      for (const c of changes) {
        const dev = c.what.slice(0, c.what.indexOf(':'))
        touched.set(dev, (touched.get(dev) ?? new Set()).add(c.part))
        sent.push(c.run())
      }
      await allAnswered(sent)
      await rtnl.raiseShaped(down)
    })
  }
  const stale = ourIfbs.filter((l) => !want.ifbs.includes(l.name))
  if (stale.length > 0) {
    await tx.step({ name: 'remove-ifbs', detail: String(stale.length) }, 'links', async (s) => {
      // Made again on rollback, with their limits: the ports' redirects (put back after) name them.
      const saved = await Promise.all(stale.map((l) => readSnapshot(rtnl, l, qdiscs)))
      const removed: DeviceSnapshot[] = []
      s.onUndo(async () => {
        await Promise.all(
          removed.map(async (snap) => {
            const old = stale.find((l) => l.name === snap.dev)!
            await rtnl.addLink({ kind: 'ifb', name: snap.dev, group: plan.group, alias: old.alias ?? plan.alias.ifb, txQueueLen: IFB_TXQUEUELEN, up: true })
            await restoreSnapshot(rtnl, snap, new Set(['root']))
          }),
        )
      })
      await Promise.all(
        saved.map(async (snap, i) => {
          await rtnl.deleteLink(stale[i]!.index).catch(ignoreNotFound)
          removed.push(snap)
        }),
      )
      s.outcome('removed')
    })
  }
}
