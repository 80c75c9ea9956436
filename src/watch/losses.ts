/**
 * Turns notifications into losses: a change to one of the network's own objects that leaves it short of
 * its plan (its table deleted, flushed or edited; its bridge deleted or set down; a port deleted, set down or
 * let go of by the bridge; a planned host address removed; a qdisc, class or filter of its bandwidth limits
 * deleted, or an IFB of them). Everything about other links and tables is ignored.
 *
 * Two things need memory across messages, so this is a small state machine rather than a function:
 * - address notifications name the link only by index: the names of links are learnt from link
 *   notifications (and seeded by the caller);
 * - nf_tables reports a transaction object by object and closes it with NFT_MSG_NEWGEN. kvmnet replaces
 *   a network's table in one transaction (add, delete, add again, then its chains and rules), so a delete
 *   followed by a re-creation in the same transaction is a replacement by a writer that knows the table,
 *   not a loss. Only the transaction's net effect counts.
 */
import type { NftNotification } from './nft-notification.js'
import { nfprotoName } from '../nft/index.js'
import { isOwnNetlinkPort } from '../rtnl/index.js'
import { NFPROTO } from './nft-notification.js'
import type { RtnlNotification } from './rtnl-notification.js'
import { canonCidr, type WatchTargets } from './targets.js'

export type LossKind = 'nft' | 'bridge' | 'port' | 'link' | 'address' | 'bandwidth' | 'dnsmasq' | 'unknown'

export interface Loss {
  kind: LossKind
  /** What was lost, for people: 'nft table kvmnet_lab', 'bridge kvbr-lab', 'port vm0', 'address 10.0.0.1/24 on kvbr-lab', 'bandwidth on vm0'. */
  what: string
}

type NftObjectEvent = Extract<NftNotification, { kind: 'object' }>

export class LossClassifier {
  private readonly nameOf = new Map<number, string>()
  private readonly indexOf = new Map<string, number>()
  /** Object messages of the transaction in progress that touch the network's tables. */
  private txn: NftObjectEvent[] = []
  private lastRestored: string[] = []

  /** `targets` is asked on every message: the network's plan may change while it is watched. */
  constructor(private readonly targets: () => WatchTargets) {}

  /** A link known to exist before the first notification (its index names it in address messages). */
  learnLink(index: number, name: string): void {
    this.forgetIndex(index)
    this.nameOf.set(index, name)
    this.indexOf.set(name, index)
  }

  onRtnl(n: RtnlNotification): Loss[] {
    const t = this.targets()
    if (n.kind === 'tc') {
      const dev = this.nameOf.get(n.index)
      if (dev === undefined || !t.shaped.has(dev)) return []
      // Made or changed by kvmnet's own request (this process's sockets): what it planned. By another
      // program (`tc class change` in place): a converge compares the device with the plan, and changes
      // nothing (reports nothing) when it still matches.
      if (n.op === 'new' && isOwnNetlinkPort(n.sender)) return []
      return [{ kind: 'bandwidth', what: `bandwidth on ${dev}` }]
    }
    if (n.kind === 'address') {
      if (n.op !== 'del') return []
      const link = this.nameOf.get(n.address.index) ?? n.address.label
      const cidr = canonCidr(n.address.cidr)
      return link !== undefined && cidr !== undefined && t.addresses.get(link)?.has(cidr) ? [{ kind: 'address', what: `address ${n.address.cidr} on ${link}` }] : []
    }
    const { link } = n
    if (n.op === 'del') {
      if (this.nameOf.get(link.index) === link.name) this.forgetIndex(link.index)
    } else {
      this.learnLink(link.index, link.name)
    }
    const gone = n.op === 'del'
    if (link.name === t.bridge) return gone || !link.up ? [{ kind: 'bridge', what: `bridge ${link.name}` }] : []
    const port = t.ports.get(link.name)
    if (port) {
      if (gone) return [{ kind: 'port', what: `port ${link.name}` }]
      // A port still being made has no alias yet (nor a master): only a finished port can be lost.
      if (link.alias !== t.portAlias) return []
      const bridgeIndex = t.bridge === undefined ? undefined : this.indexOf.get(t.bridge)
      const released = port.enslaved && (link.master === undefined || (bridgeIndex !== undefined && link.master !== bridgeIndex))
      // Set down by hand (administratively): a converge raises it again.
      return released || !link.up ? [{ kind: 'port', what: `port ${link.name}` }] : []
    }
    if (t.links.has(link.name) && (gone || !link.up)) return [{ kind: 'link', what: `link ${link.name}` }]
    // An IFB of the limits (the other shaped devices are the bridge and ports, handled above): deleted, or
    // set down, which drops every upload redirected to it. kvmnet makes its IFBs down and raises them once
    // their qdiscs are on: within its own change that raise is restoredBy's.
    if (t.shaped.has(link.name) && (gone || !link.up)) return [{ kind: 'bandwidth', what: `bandwidth on ${link.name}` }]
    return []
  }

  /**
   * What a link or address notification shows whole again, named as its loss would be: a loss seen while
   * kvmnet itself changed the network (its own bridge is made down, then raised) is no loss when a later
   * message of the same change shows the thing as planned. Call after onRtnl for the same message.
   */
  restoredBy(n: RtnlNotification): string[] {
    if (n.op !== 'new' || n.kind === 'tc') return []
    const t = this.targets()
    if (n.kind === 'address') {
      const link = this.nameOf.get(n.address.index) ?? n.address.label
      const cidr = canonCidr(n.address.cidr)
      return link !== undefined && cidr !== undefined && t.addresses.get(link)?.has(cidr) ? [`address ${n.address.cidr} on ${link}`] : []
    }
    const { link } = n
    if (!link.up) return []
    if (link.name === t.bridge) return [`bridge ${link.name}`]
    const port = t.ports.get(link.name)
    if (port) {
      const bridgeIndex = t.bridge === undefined ? undefined : this.indexOf.get(t.bridge)
      const placed = !port.enslaved || (link.master !== undefined && link.master === bridgeIndex)
      return link.alias === t.portAlias && placed ? [`port ${link.name}`] : []
    }
    if (t.links.has(link.name)) return [`link ${link.name}`]
    return t.shaped.has(link.name) ? [`bandwidth on ${link.name}`] : []
  }

  /** The tables the last complete transaction left in place (a loss of them meanwhile was replaced). */
  get nftRestored(): readonly string[] {
    return this.lastRestored
  }

  /** Losses are known once a transaction is complete: they come with its NEWGEN message. */
  onNft(n: NftNotification): Loss[] {
    if (n.kind === 'object') {
      if (this.targets().tables.some((x) => x.family === n.family && x.name === n.table)) this.txn.push(n)
      return []
    }
    const events = this.txn
    this.txn = []
    const tables = new Map<string, NftObjectEvent[]>()
    for (const e of events) {
      const key = `${e.family} ${e.table}`
      tables.set(key, [...(tables.get(key) ?? []), e])
    }
    const losses: Loss[] = []
    this.lastRestored = []
    for (const list of tables.values()) {
      const first = list[0]
      if (!first) continue
      const what = first.family === NFPROTO.inet ? `nft table ${first.table}` : `nft table ${familyName(first.family)} ${first.table}`
      const last = list.filter((e) => e.object === 'table').pop()
      if (last?.op === 'new') this.lastRestored.push(what)
      else losses.push({ kind: 'nft', what })
    }
    return losses
  }

  private forgetIndex(index: number): void {
    const name = this.nameOf.get(index)
    if (name !== undefined && this.indexOf.get(name) === index) this.indexOf.delete(name)
    this.nameOf.delete(index)
  }
}

function familyName(family: number): string {
  return nfprotoName(family) ?? `family ${family}`
}

