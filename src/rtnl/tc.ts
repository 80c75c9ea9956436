/**
 * Traffic-control operations on one namespace's pipelined socket: read, replace and delete qdiscs, HTB
 * classes and u32 filters, and a probe of the kernel pieces kvmnet shapes with. Changes are sent quiet
 * (RtnlSocket.requestQuiet): a converge sends hundreds at once, and only a refusal needs an answer of its own.
 */
import { randomBytes } from 'node:crypto'
import { KernelFeatureError, isNotFound } from '../errors.js'
import type { RtnlContext } from './context.js'
import { encodeCreateLink, encodeDeleteLink, encodeSetLink } from './link-message.js'
import {
  decodeClass,
  decodeFilter,
  decodeQdisc,
  encodeAddU32Filter,
  encodeDeleteClass,
  encodeDeleteFilters,
  encodeDeleteQdisc,
  encodeDumpClasses,
  encodeDumpFilters,
  encodeDumpQdiscs,
  encodeReplaceHtbClass,
  encodeReplaceQdisc,
} from './tc-message.js'
import type { ClassInfo, FilterInfo, HtbClassSpec, QdiscInfo, QdiscSpec, U32FilterSpec } from './tc-types.js'
import { RTM_NEWQDISC, RTM_NEWTCLASS, RTM_NEWTFILTER, TC_H_INGRESS_HANDLE } from './wire/constants.js'
import { formatHandle } from './wire/tcmsg.js'
import { describe, fetchLink } from './resolve-link.js'

/** Qdiscs of one device (ifindex), or of every device when dev is omitted. */
export async function listQdiscs(ctx: RtnlContext, dev?: number): Promise<QdiscInfo[]> {
  const r = await ctx.sock.dump(encodeDumpQdiscs(dev ?? 0), { object: dev === undefined ? 'qdiscs' : `qdiscs of ${dev}` })
  return r.filter((m) => m.type === RTM_NEWQDISC).map((m) => decodeQdisc(m.payload)).filter((q) => dev === undefined || q.dev === dev)
}

export async function listClasses(ctx: RtnlContext, dev: number): Promise<ClassInfo[]> {
  const r = await ctx.sock.dump(encodeDumpClasses(dev), { object: `classes of ${dev}` })
  return r.filter((m) => m.type === RTM_NEWTCLASS).map((m) => decodeClass(m.payload)).filter((c) => c.dev === dev)
}

/** The filters under `parent` (a qdisc handle; ffff: for ingress). */
export async function listFilters(ctx: RtnlContext, dev: number, parent: number): Promise<FilterInfo[]> {
  const r = await ctx.sock.dump(encodeDumpFilters(dev, parent), { object: `filters of ${dev} ${formatHandle(parent)}` })
  return r.filter((m) => m.type === RTM_NEWTFILTER).map((m) => decodeFilter(m.payload)).filter((f) => f.dev === dev)
}

/** Create the qdisc, or change the one in place when it has the same kind and handle. */
export async function replaceQdisc(ctx: RtnlContext, q: QdiscSpec): Promise<void> {
  await ctx.sock.requestQuiet(encodeReplaceQdisc(q), { object: `${q.kind} qdisc on ${q.dev}` })
}

/** Delete the root qdisc (with its classes and filters) or the ingress qdisc (with its filters). */
export async function deleteQdisc(ctx: RtnlContext, dev: number, which: 'root' | 'ingress'): Promise<void> {
  await ctx.sock.requestQuiet(encodeDeleteQdisc(dev, which), { object: `${which} qdisc on ${dev}` })
}

/** Create the class, or change its rates in place (the packets queued in it stay). */
export async function replaceHtbClass(ctx: RtnlContext, c: HtbClassSpec): Promise<void> {
  await ctx.sock.requestQuiet(encodeReplaceHtbClass(c), { object: `class ${formatHandle(c.classid)} on ${c.dev}` })
}

export async function deleteClass(ctx: RtnlContext, dev: number, classid: number): Promise<void> {
  await ctx.sock.requestQuiet(encodeDeleteClass(dev, classid), { object: `class ${formatHandle(classid)} on ${dev}` })
}

export async function addU32Filter(ctx: RtnlContext, f: U32FilterSpec): Promise<void> {
  await ctx.sock.requestQuiet(encodeAddU32Filter(f), { object: `u32 filter prio ${f.prio} on ${f.dev} ${formatHandle(f.parent)}` })
}

export async function deleteFilters(ctx: RtnlContext, dev: number, parent: number, prio: number): Promise<void> {
  await ctx.sock.requestQuiet(encodeDeleteFilters(dev, parent, prio), { object: `filters prio ${prio} on ${dev} ${formatHandle(parent)}` })
}

/**
 * Raise devices whose qdiscs were grafted while they were down (a graft on a device that is up waits for an
 * RCU grace period): quiet, as the changes before them, so 200 raises of 100 shaped ports are not 200 acks.
 */
export async function raiseShaped(ctx: RtnlContext, devs: readonly number[]): Promise<void> {
  await Promise.all(devs.map((index) => ctx.sock.requestQuiet(encodeSetLink({ index }, { up: true }), { object: describe(index) })))
}

/** Namespaces (by path) whose kernel has passed the probe; the pieces are built in or loaded, and stay. */
const probed = new Set<string>()

/**
 * Check that the kernel has every piece bandwidth shaping uses, by making them on a throwaway IFB: the IFB
 * itself, a root HTB qdisc with a class, the ingress qdisc, and a u32 filter with a mirred redirect.
 * A missing piece is a KernelFeatureError naming it and `field`; the probe device is always removed.
 */
export async function probeShaping(ctx: RtnlContext, field: string): Promise<void> {
  const key = ctx.ns?.path ?? '/proc/self/ns/net'
  if (probed.has(key)) return
  // A random name: a probe device left by a process killed mid-probe must not fail the next one.
  const name = `kvqprobe${randomBytes(3).toString('hex')}`
  const step = async (feature: string, what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn()
    } catch (err) {
      throw new KernelFeatureError(feature, field, `${what}: ${(err as Error).message}`, err)
    }
  }
  await step('ifb', 'creating an IFB device', () => ctx.sock.request(encodeCreateLink({ kind: 'ifb', name }), { object: name }))
  try {
    const dev = (await fetchLink(ctx, name)).index
    const H = 0x4b510000
    await step('sch_htb', 'an HTB qdisc', () => replaceQdisc(ctx, { kind: 'htb', dev, handle: H, defaultClass: 1 }))
    await step('sch_htb', 'an HTB class', () => replaceHtbClass(ctx, { dev, classid: H | 1, parent: H, rate: 125000 }))
    await step('sch_ingress', 'the ingress qdisc', () => replaceQdisc(ctx, { kind: 'ingress', dev }))
    await step('cls_u32 and act_mirred', 'a u32 filter with a mirred redirect', () =>
      addU32Filter(ctx, { dev, parent: TC_H_INGRESS_HANDLE, prio: 1, match: { all: true }, redirectTo: dev }),
    )
  } finally {
    await ctx.sock.request(encodeDeleteLink({ name }), { object: name }).catch((err: unknown) => {
      // Already gone is fine (teardown of something removed); anything else is reported.
      if (!isNotFound(err)) throw err
    })
  }
  probed.add(key)
}
