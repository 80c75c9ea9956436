/** Link operations: create (every kind), ensure, get/find/list, change, delete, delete a group. */
import { closeSync, openSync } from 'node:fs'
import { constants as os } from 'node:os'
import { KvmnetError, NetlinkError, SpecError, SystemError, isExists, isNotFound, undoThenThrow } from '../errors.js'
import type { NetnsRef } from '../netns/index.js'
import { createTaps } from '../tap/index.js'
import type { RtnlContext } from './context.js'
import type { LinkChange, LinkFilter, LinkInfo, LinkRef, LinkSpec, TapSpec } from './link-types.js'
import { validateLinkChange, validateLinkRef, validateLinkSpec } from './link-validate.js'
import {
  decodeLink,
  linkIndexOf,
  linkNameOf,
  linkInGroup,
  linkSelector,
  encodeCreateLink,
  encodeDeleteGroup,
  encodeDeleteLink,
  encodeDumpLinks,
  encodeSetLink,
  ADDR_GEN_MODE_VALUES,
  type LinkTarget,
  type ResolvedChange,
  type ResolvedCreate,
} from './link-message.js'
import { deleteUntilUnlisted } from './delete-unlisted.js'
import { reserveMacvtapIndex, waitForTapDevice } from './macvtap-index.js'
import { describe, fetchLink, indexOfDependency, targetOf } from './resolve-link.js'
import { NLM_F_ECHO, RTM_NEWLINK } from './wire/constants.js'

const MACVTAP_INDEX_ATTEMPTS = 5

function openNetnsFd(ns: NetnsRef, field: string): number {
  try {
    return openSync(ns.path, 'r')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ENOENT') throw new SpecError(field, `namespace ${ns.path} does not exist`)
    throw new SystemError({ errno: e.errno ?? 0, syscall: 'open', path: ns.path, cause: err })
  }
}

export async function getLink(ctx: RtnlContext, ref: LinkRef): Promise<LinkInfo> {
  validateLinkRef(ref, 'link')
  return fetchLink(ctx, ref)
}

export async function findLink(ctx: RtnlContext, ref: LinkRef): Promise<LinkInfo | undefined> {
  try {
    return await getLink(ctx, ref)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

export async function listLinks(ctx: RtnlContext, filter: LinkFilter = {}): Promise<LinkInfo[]> {
  if (filter.master !== undefined) validateLinkRef(filter.master, 'filter.master')
  let master: number | undefined
  if (typeof filter.master === 'string') {
    // Nothing can be enslaved to a bridge that does not exist.
    const m = await findLink(ctx, filter.master)
    if (!m) return []
    master = m.index
  } else master = filter.master
  // The kernel filters master and kind; group and anyOf have no dump filter. Checking all of them here as
  // well keeps the result right on kernels that ignore a filter. Group and anyOf are checked in the
  // datagram, before a reply is even kept: a network's ports are a few of the namespace's links, and
  // decoding (or just holding) every one was most of what an `up` allocated.
  const { group, anyOf } = filter
  const sel = anyOf && linkSelector(anyOf)
  const keep =
    group === undefined && sel === undefined
      ? undefined
      : (buf: Buffer, start: number, end: number) => (group === undefined || linkInGroup(buf, group, start, end)) && (sel === undefined || sel(buf, start, end))
  const replies = await ctx.sock.dump(encodeDumpLinks({ ...(master !== undefined ? { master } : {}), ...(filter.kind ? { kind: filter.kind } : {}) }), {
    object: 'links',
    keep,
  })
  return replies
    .filter((r) => r.type === RTM_NEWLINK)
    .map((r) => decodeLink(r.payload))
    .filter((l) => (master === undefined || l.master === master) && (!filter.kind || l.kind === filter.kind) && (filter.group === undefined || l.group === filter.group))
}

/**
 * Links' names by index: one dump, nothing else decoded (what naming routes' devices needs); only the
 * indexes in `only` when given (the devices of the routes listed, not every port of the namespace).
 */
export async function linkNamesByIndex(ctx: RtnlContext, only?: ReadonlySet<number>): Promise<Map<number, string>> {
  const keep = only === undefined ? undefined : (buf: Buffer, start: number) => only.has(linkIndexOf(buf, start))
  const replies = await ctx.sock.dump(encodeDumpLinks(), { object: 'links', keep })
  const names = new Map<number, string>()
  for (const r of replies) {
    if (r.type !== RTM_NEWLINK) continue
    const index = linkIndexOf(r.payload)
    if (only === undefined || only.has(index)) names.set(index, linkNameOf(r.payload))
  }
  return names
}

/** The kind a spec creates, as the kernel reports it (taps are 'tun' devices). */
function kernelKind(spec: LinkSpec): string {
  return spec.kind === 'tap' ? 'tun' : spec.kind
}

function sameKind(link: LinkInfo, spec: LinkSpec): boolean {
  if (spec.kind === 'tap') return link.kind === 'tun' && (link.tun === undefined || link.tun.type === 'tap')
  return link.kind === spec.kind
}

async function createTapLink(ctx: RtnlContext, spec: TapSpec, master: number | undefined): Promise<LinkInfo> {
  if (await findLink(ctx, spec.name)) throw new NetlinkError({ errno: os.errno.EEXIST, op: 'RTM_NEWLINK', object: spec.name })
  const [tap] = createTaps(ctx.ns, [
    {
      name: spec.name,
      mode: 'tap',
      persist: true,
      ...(spec.queues !== undefined ? { queues: spec.queues } : {}),
      ...(spec.vnetHdr !== undefined ? { vnetHdr: spec.vnetHdr } : {}),
      ...(spec.owner !== undefined ? { owner: spec.owner } : {}),
      ...(spec.ownerGroup !== undefined ? { group: spec.ownerGroup } : {}),
    },
  ])
  // Persistent: the device stays after its queue fds are closed; it is configured like any link.
  tap!.close()
  const change: ResolvedChange = {}
  if (spec.mtu !== undefined) change.mtu = spec.mtu
  if (spec.mac !== undefined) change.mac = spec.mac
  if (master !== undefined) change.master = master
  if (spec.group !== undefined) change.group = spec.group
  if (spec.alias !== undefined) change.alias = spec.alias
  if (spec.up !== undefined) change.up = spec.up
  try {
    if (Object.keys(change).length > 0) await ctx.sock.request(encodeSetLink({ name: spec.name }, change), { object: spec.name })
    return await fetchLink(ctx, spec.name)
  } catch (err) {
    return await undoThenThrow(err, () => ctx.sock.request(encodeDeleteLink({ name: spec.name }), { object: spec.name }))
  }
}

async function createMacvtap(ctx: RtnlContext, spec: LinkSpec, r: ResolvedCreate): Promise<LinkInfo> {
  const used = new Set((await listLinks(ctx)).map((l) => l.index))
  for (let attempt = 1; ; attempt++) {
    const slot = reserveMacvtapIndex(used)
    try {
      try {
        await ctx.sock.request(encodeCreateLink(spec, { ...r, index: slot.index }), { object: spec.name })
      } catch (err) {
        // EEXIST is either our name (a real conflict) or the chosen index taken since the listing.
        if (!isExists(err) || attempt >= MACVTAP_INDEX_ATTEMPTS || (await findLink(ctx, spec.name))) throw err
        used.add(slot.index)
        continue
      }
      await setAliasAfterCreate(ctx, { index: slot.index }, spec)
      if (!(await waitForTapDevice(slot.index))) {
        const missing = new KvmnetError(`${spec.name}: /dev/tap${slot.index} did not appear (is devtmpfs mounted on /dev?)`)
        await undoThenThrow(missing, () => ctx.sock.request(encodeDeleteLink({ index: slot.index }), { object: spec.name }))
      }
      return await fetchLink(ctx, slot.index)
    } finally {
      slot.release()
    }
  }
}

/** How a create is sent (see Rtnl.addLink). */
export interface AddLinkOptions {
  /**
   * Send the create from a pool thread (RtnlSocket.requestOffLoop): the kernel does a create's work inside
   * the sender's sendmsg() (a veth with its peer moved to another namespace, enslaved to a bridge: waits
   * for the rtnl lock, then 0.3-5 ms of work here), and the event loop runs meanwhile. Not for taps.
   */
  offLoop?: boolean
}

/** Create a link; EEXIST (isExists) when one of that name exists. Nothing is left behind on failure. */
export async function addLink(ctx: RtnlContext, spec: LinkSpec, opts: AddLinkOptions = {}): Promise<LinkInfo> {
  validateLinkSpec(spec)
  const master = spec.master === undefined ? undefined : await indexOfDependency(ctx, spec.master, 'master', true)
  if (spec.kind === 'tap') return createTapLink(ctx, spec, master)
  const r: ResolvedCreate = {}
  if (master !== undefined) r.master = master
  if ((spec.kind === 'macvlan' || spec.kind === 'macvtap') && spec.parent !== undefined) r.parent = await indexOfDependency(ctx, spec.parent, 'parent', true)
  if (spec.kind === 'vxlan' && spec.parent !== undefined) r.parent = await indexOfDependency(ctx, spec.parent, 'parent', true)
  if (spec.kind === 'macvtap') return createMacvtap(ctx, spec, r)
  const peerNs = spec.kind === 'veth' ? spec.peer.netns : undefined
  const fd = peerNs && !peerNs.isCurrent ? openNetnsFd(peerNs, 'peer.netns') : undefined
  let made: LinkInfo | undefined
  try {
    if (fd !== undefined) r.peerNetnsFd = fd
    // NLM_F_ECHO: the kernel (6.3+) answers the create with the new link, as a GETLINK after it would —
    // but sends it before it enslaves the link, so a link with a master is asked for afterwards.
    const msg = encodeCreateLink(spec, r)
    if (r.master === undefined) msg.writeUInt16LE(msg.readUInt16LE(6) | NLM_F_ECHO, 6)
    // Quiet (no ack of its own; see RtnlSocket.requestQuiet): the echo and a refusal still come, and the
    // IFBs of 100 shaped ports, made at once, are not 100 acks (nor their aliases below 100 more).
    const meta = { object: spec.name }
    made = echoedLink(await (opts.offLoop ? ctx.sock.requestOffLoop(msg, meta) : ctx.sock.requestQuiet(msg, meta)), spec.name)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  await setAliasAfterCreate(ctx, { name: spec.name }, spec)
  // The alias is the one change since the echo; a kernel that does not echo is asked.
  return made ? { ...made, alias: spec.alias ?? made.alias } : fetchLink(ctx, spec.name)
}

/** The link a create with NLM_F_ECHO was answered with (a veth's peer is never echoed: named to be sure). */
function echoedLink(replies: readonly { type: number; payload: Buffer }[], name: string): LinkInfo | undefined {
  for (const r of replies) {
    if (r.type !== RTM_NEWLINK) continue
    const l = decodeLink(r.payload)
    if (l.name === name) return l
  }
  return undefined
}

/**
 * The kernel's create path (rtnl_create_link) ignores IFLA_IFALIAS and refuses IFLA_AF_SPEC, so the alias
 * and the address generation mode are a second request; if that fails the new link is removed again.
 */
async function setAliasAfterCreate(ctx: RtnlContext, target: LinkTarget, spec: LinkSpec): Promise<void> {
  if (spec.alias === undefined && spec.addrGenMode === undefined) return
  const change: ResolvedChange = {}
  if (spec.alias !== undefined) change.alias = spec.alias
  if (spec.addrGenMode !== undefined) change.addrGenMode = ADDR_GEN_MODE_VALUES[spec.addrGenMode]
  try {
    await ctx.sock.requestQuiet(encodeSetLink(target, change), { object: spec.name })
  } catch (err) {
    await undoThenThrow(err, () => ctx.sock.request(encodeDeleteLink(target), { object: spec.name }))
  }
}

/** The changes that bring an existing link in line with a spec (attributes the spec names only). */
function drift(link: LinkInfo, spec: LinkSpec, master: number | undefined): LinkChange {
  const c: LinkChange = {}
  if (spec.mtu !== undefined && link.mtu !== spec.mtu) c.mtu = spec.mtu
  if (spec.mac !== undefined && link.mac !== spec.mac.toLowerCase()) c.mac = spec.mac
  if (master !== undefined && link.master !== master) c.master = master
  if (spec.group !== undefined && link.group !== spec.group) c.group = spec.group
  if (spec.alias !== undefined && (link.alias ?? '') !== spec.alias) c.alias = spec.alias
  if (spec.up !== undefined && link.up !== spec.up) c.up = spec.up
  if (spec.addrGenMode !== undefined && link.addrGenMode !== undefined && link.addrGenMode !== spec.addrGenMode) c.addrGenMode = spec.addrGenMode
  return c
}

/**
 * Idempotent create: an existing link of the same kind is accepted (and given the spec's common
 * attributes if they differ); one of another kind is a SpecError on 'kind'.
 */
export async function ensureLink(ctx: RtnlContext, spec: LinkSpec): Promise<{ link: LinkInfo; created: boolean }> {
  validateLinkSpec(spec)
  for (;;) {
    const have = await findLink(ctx, spec.name)
    if (!have) {
      try {
        return { link: await addLink(ctx, spec), created: true }
      } catch (err) {
        if (isExists(err) && (await findLink(ctx, spec.name))) continue // created meanwhile: adopt it
        throw err
      }
    }
    if (!sameKind(have, spec))
      throw new SpecError('kind', `${spec.name} exists as ${have.kind ? `a ${have.kind}` : 'a device without a kind'}, not a ${kernelKind(spec)}`)
    const master = spec.master === undefined ? undefined : await indexOfDependency(ctx, spec.master, 'master')
    const change = drift(have, spec, master)
    if (Object.keys(change).length === 0) return { link: have, created: false }
    await setLink(ctx, have.index, change)
    return { link: await fetchLink(ctx, have.index), created: false }
  }
}

/** The fields of a change that need no lookup (master, rename and namespace are resolved by the caller). */
function resolvePlain(change: LinkChange): ResolvedChange {
  const c: ResolvedChange = {}
  if (change.up !== undefined) c.up = change.up
  if (change.mtu !== undefined) c.mtu = change.mtu
  if (change.mac !== undefined) c.mac = change.mac
  if (change.alias !== undefined) c.alias = change.alias
  if (change.group !== undefined) c.group = change.group
  if (change.addrGenMode !== undefined) c.addrGenMode = ADDR_GEN_MODE_VALUES[change.addrGenMode]
  return c
}

export async function setLink(ctx: RtnlContext, ref: LinkRef, change: LinkChange): Promise<void> {
  validateLinkRef(ref, 'link')
  validateLinkChange(change)
  const c = resolvePlain(change)
  if (change.master === null) c.master = 0
  else if (change.master !== undefined) c.master = await indexOfDependency(ctx, change.master, 'master')
  // A rename carries the new name in IFLA_IFNAME, so the link itself must be named by index.
  let target = targetOf(ref)
  if (change.name !== undefined) {
    c.name = change.name
    if (typeof ref === 'string') target = { index: (await fetchLink(ctx, ref)).index }
  }
  const fd = change.netns && !change.netns.isCurrent ? openNetnsFd(change.netns, 'netns') : undefined
  try {
    if (fd !== undefined) c.netnsFd = fd
    await ctx.sock.request(encodeSetLink(target, c), { object: describe(ref) })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Many links changed at once (no rename, no namespace move): each request sent without an ack of its own
 * (RtnlSocket.requestQuiet), so a round of a thousand is answered by a few acks, one per datagram, and a
 * refusal still rejects with that request's NetlinkError. Acked one by one, each ack was a datagram of its
 * own read with two recvmsg and a call into JS: 2000 of them for 1000 taps tagged and enslaved.
 */
export async function setLinks(ctx: RtnlContext, changes: readonly { ref: LinkRef; change: LinkChange }[]): Promise<void> {
  const masters = new Map<LinkRef, Promise<number>>()
  const encoded = await Promise.all(
    changes.map(async ({ ref, change }, i) => {
      validateLinkRef(ref, `changes[${i}].ref`)
      validateLinkChange(change, `changes[${i}].change`)
      if (change.name !== undefined || change.netns !== undefined) throw new SpecError(`changes[${i}].change`, 'a rename or a namespace move goes through setLink')
      const c = resolvePlain(change)
      if (change.master === null) c.master = 0
      else if (change.master !== undefined) {
        // One lookup per master named, however many links join it.
        const m = change.master
        if (!masters.has(m)) masters.set(m, indexOfDependency(ctx, m, 'master'))
        c.master = await masters.get(m)!
      }
      return { msg: encodeSetLink(targetOf(ref), c), object: describe(ref) }
    }),
  )
  await Promise.all(encoded.map(({ msg, object }) => ctx.sock.requestQuiet(msg, { object })))
}

/** Absent link: NetlinkError with code ENODEV (isNotFound). */
export async function deleteLink(ctx: RtnlContext, ref: LinkRef): Promise<void> {
  validateLinkRef(ref, 'link')
  await ctx.sock.request(encodeDeleteLink(targetOf(ref)), { object: describe(ref) })
}

export interface DeleteGroupOptions {
  /**
   * The group's links (indexes) as the caller listed them: the delete then settles once the kernel has
   * unlisted them all (see delete-unlisted.ts), not after the RCU barrier it waits in before its ack.
   */
  members?: readonly number[] | undefined
}

/** Every link of a group in one request (`ip link delete group N`). Empty group: ENODEV. */
export async function deleteGroup(ctx: RtnlContext, group: number, opts: DeleteGroupOptions = {}): Promise<void> {
  if (!Number.isInteger(group) || group < 1 || group > 0xffffffff)
    throw new SpecError('group', group === 0 ? 'group 0 is the default group of every link (lo included); refusing to delete it' : 'must be an integer 1..4294967295')
  const meta = { object: `group ${group}` }
  if (opts.members !== undefined && opts.members.length > 0) return deleteUntilUnlisted(ctx.sock, encodeDeleteGroup(group), meta, opts.members)
  await ctx.sock.request(encodeDeleteGroup(group), meta)
}
