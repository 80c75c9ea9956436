/**
 * The rtnetlink handle of one namespace. Every method may be called concurrently: requests pipeline on
 * one socket, and those issued in the same turn of the event loop share datagrams.
 */
import type { NetnsRef } from '../netns/index.js'
import * as addresses from './addresses.js'
import * as fdb from './fdb.js'
import type { FdbFilter, FdbSpec } from './fdb.js'
import type { FdbEntry } from './fdb-message.js'
import type { AddressInfo, AddressOptions } from './address-message.js'
import type { RtnlContext } from './context.js'
import * as links from './links.js'
import type { LinkChange, LinkFilter, LinkInfo, LinkRef, LinkSpec } from './link-types.js'
import type { RouteInfo, RouteSpec } from './route-message.js'
import * as routes from './routes.js'
import type { RouteFilter } from './routes.js'
import { RtnlSocket } from './socket.js'
import type { RtnlSocketOptions } from './off-loop-sends.js'
import * as tc from './tc.js'
import type { ClassInfo, FilterInfo, HtbClassSpec, QdiscInfo, QdiscSpec, U32FilterSpec } from './tc-types.js'

export class Rtnl {
  private readonly ctx: RtnlContext

  private constructor(
    private readonly socket: RtnlSocket,
    readonly ns: NetnsRef | undefined,
  ) {
    this.ctx = { sock: socket, ns }
  }

  /**
   * A handle on `ns` (the process's own namespace when omitted). Does not keep the process alive when idle.
   * `sendOffLoop`: every request sent from a pool thread (see RtnlSocketOptions), for a process whose event
   * loop has other work than waiting for these answers.
   */
  static open(ns?: NetnsRef, opts?: RtnlSocketOptions): Rtnl {
    return new Rtnl(RtnlSocket.open(ns, undefined, opts), ns)
  }

  /** Rejects whatever is still pending. */
  close(): void {
    this.socket.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** `offLoop`: the create sent from a pool thread, the event loop running meanwhile (see AddLinkOptions). */
  addLink(spec: LinkSpec, opts?: links.AddLinkOptions): Promise<LinkInfo> {
    return links.addLink(this.ctx, spec, opts)
  }

  ensureLink(spec: LinkSpec): Promise<{ link: LinkInfo; created: boolean }> {
    return links.ensureLink(this.ctx, spec)
  }

  /** NetlinkError code ENODEV (isNotFound) when absent. */
  getLink(ref: LinkRef): Promise<LinkInfo> {
    return links.getLink(this.ctx, ref)
  }

  findLink(ref: LinkRef): Promise<LinkInfo | undefined> {
    return links.findLink(this.ctx, ref)
  }

  listLinks(filter?: LinkFilter): Promise<LinkInfo[]> {
    return links.listLinks(this.ctx, filter)
  }

  setLink(ref: LinkRef, change: LinkChange): Promise<void> {
    return links.setLink(this.ctx, ref, change)
  }

  /** Many links changed in one round, without an ack per request (links.ts); a refusal rejects as setLink's. */
  setLinks(changes: readonly { ref: LinkRef; change: LinkChange }[]): Promise<void> {
    return links.setLinks(this.ctx, changes)
  }

  deleteLink(ref: LinkRef): Promise<void> {
    return links.deleteLink(this.ctx, ref)
  }

  /** `members`: the group's link indexes, to settle once they are unlisted (links.ts). */
  deleteGroup(group: number, opts?: links.DeleteGroupOptions): Promise<void> {
    return links.deleteGroup(this.ctx, group, opts)
  }

  addAddress(link: LinkRef, cidr: string, opts?: AddressOptions): Promise<void> {
    return addresses.addAddress(this.ctx, link, cidr, opts)
  }

  replaceAddress(link: LinkRef, cidr: string, opts?: AddressOptions): Promise<void> {
    return addresses.replaceAddress(this.ctx, link, cidr, opts)
  }

  deleteAddress(link: LinkRef, cidr: string): Promise<void> {
    return addresses.deleteAddress(this.ctx, link, cidr)
  }

  listAddresses(link?: LinkRef): Promise<AddressInfo[]> {
    return addresses.listAddresses(this.ctx, link)
  }

  addRoute(spec: RouteSpec): Promise<void> {
    return routes.addRoute(this.ctx, spec)
  }

  replaceRoute(spec: RouteSpec): Promise<void> {
    return routes.replaceRoute(this.ctx, spec)
  }

  deleteRoute(spec: RouteSpec): Promise<void> {
    return routes.deleteRoute(this.ctx, spec)
  }

  /** `ip route get`: the kernel's route for one packet (NetlinkError when it would not route it). */
  routeGet(q: { dst: string; src?: string | undefined; iif?: LinkRef | undefined }): Promise<RouteInfo> {
    return routes.routeGet(this.ctx, q)
  }

  listRoutes(filter?: RouteFilter): Promise<RouteInfo[]> {
    return routes.listRoutes(this.ctx, filter)
  }

  /** The default route the kernel uses for `family` (lowest metric, main table), optionally only one of `protocol`'s. */
  defaultRoute(family: 4 | 6, opts?: { protocol?: number }): Promise<RouteInfo | undefined> {
    return routes.defaultRoute(this.ctx, family, opts)
  }

  /** `bridge fdb append MAC dev DEV dst IP self permanent` (MAC default all-zero: a flooding destination). */
  addFdb(spec: FdbSpec): Promise<void> {
    return fdb.addFdb(this.ctx, spec)
  }

  /** `bridge fdb del MAC dev DEV dst IP self`; ENOENT (isNotFound) when absent. */
  deleteFdb(spec: FdbSpec): Promise<void> {
    return fdb.deleteFdb(this.ctx, spec)
  }

  /** `bridge fdb show [dev DEV]`: AF_BRIDGE entries (NTF_SELF ones are the device's own table). */
  listFdb(filter?: FdbFilter): Promise<FdbEntry[]> {
    return fdb.listFdb(this.ctx, filter)
  }

  /** `tc qdisc show [dev N]`: qdiscs of one device (ifindex) or all. */
  listQdiscs(dev?: number): Promise<QdiscInfo[]> {
    return tc.listQdiscs(this.ctx, dev)
  }

  listClasses(dev: number): Promise<ClassInfo[]> {
    return tc.listClasses(this.ctx, dev)
  }

  listFilters(dev: number, parent: number): Promise<FilterInfo[]> {
    return tc.listFilters(this.ctx, dev, parent)
  }

  /** `tc qdisc replace`: create, or change in place one of the same kind and handle. */
  replaceQdisc(q: QdiscSpec): Promise<void> {
    return tc.replaceQdisc(this.ctx, q)
  }

  /** `tc qdisc del dev N root|ingress`; ENOENT (isNotFound) when there is none but the default. */
  deleteQdisc(dev: number, which: 'root' | 'ingress'): Promise<void> {
    return tc.deleteQdisc(this.ctx, dev, which)
  }

  /** `tc class replace … htb`: rates in bytes/s, bursts in bytes. */
  replaceHtbClass(c: HtbClassSpec): Promise<void> {
    return tc.replaceHtbClass(this.ctx, c)
  }

  deleteClass(dev: number, classid: number): Promise<void> {
    return tc.deleteClass(this.ctx, dev, classid)
  }

  addU32Filter(f: U32FilterSpec): Promise<void> {
    return tc.addU32Filter(this.ctx, f)
  }

  deleteFilters(dev: number, parent: number, prio: number): Promise<void> {
    return tc.deleteFilters(this.ctx, dev, parent, prio)
  }

  /** Raise shaped devices (ifindexes) once their qdiscs are on: `ip link set up` each, sent quiet like tc's changes. */
  raiseShaped(devs: readonly number[]): Promise<void> {
    return tc.raiseShaped(this.ctx, devs)
  }

  /** KernelFeatureError (naming `field`) unless IFB, HTB, ingress, u32 and mirred all work here. */
  probeShaping(field: string): Promise<void> {
    return tc.probeShaping(this.ctx, field)
  }
}
