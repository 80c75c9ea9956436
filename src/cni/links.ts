/**
 * The links of an attachment. veth: one end on the network's bridge in the host's namespace (the
 * network's link group and an alias naming the attachment, so `down`, `gc` and GC find it), the other
 * end in the container as CNI_IFNAME with the attachment's MAC, address and default route. tap: the veth's
 * inner end gets a hidden name, and CNI_IFNAME is a persistent tap (what a VM runtime such as KubeVirt's
 * tap binding opens by name) wired to it by tc redirects. The container-side links carry the same alias,
 * so DEL removes only its own.
 */
import { isExists, ignoreNotFound } from '../errors.js'
import type { Netns } from '../netns/index.js'
import { noLinkLocal, type LinkInfo, type LinkRef, type Rtnl } from '../rtnl/index.js'
import type { TapOptions } from './config.js'
import { hostIfname, innerIfname, type AttachmentKey } from './identity.js'
import { wireRedirects } from './tc.js'

export interface NetworkFacts {
  bridge: string
  group: number
  /** The alias of this attachment's links. */
  alias: string
  mtu: number | undefined
  prefixLength: number
  /** The host's bridge address, when the network routes guests (default route); undefined on isolated. */
  gateway: string | undefined
}

export interface MadeLinks {
  host: LinkInfo
  container: LinkInfo
  /** Whether this attachment set the container's default route (the first attachment that routes does). */
  defaultRoute: boolean
}

/** A link this attachment made (same alias), or one it created and was killed before tagging (no alias, same group). */
function isOurs(l: LinkInfo | undefined, alias: string, group?: number): l is LinkInfo {
  return l !== undefined && (l.alias === alias || (group !== undefined && !l.alias && l.group === group))
}

/**
 * Remove what an earlier, cut-short ADD of the same attachment left on the host: only a link that is
 * this attachment's own. A link of that name that is someone else's is left alone (false: the create's
 * EEXIST stands).
 */
async function clearLeftover(host: Rtnl, name: string, f: NetworkFacts): Promise<boolean> {
  const l = await host.findLink(name)
  if (!isOurs(l, f.alias, f.group)) return false
  await host.deleteLink(l.index).catch(ignoreNotFound)
  return true
}

/**
 * The veth between the network's bridge and the container: the host end on the bridge, tagged as the
 * attachment's; the peer, created in the container with only its name (and MAC), is tagged and raised there.
 * The create is sent from a pool thread: the kernel makes the pair, moves the peer and enslaves the host
 * end inside that sendmsg (under the rtnl lock every namespace shares), while the event loop goes on with
 * the ADD's apply. A leftover of an earlier, cut-short ADD is looked for only when the name is taken.
 */
async function bridgeVeth(host: Rtnl, cont: Rtnl, contNs: Netns, k: AttachmentKey, f: NetworkFacts, peer: { name: string; mac?: string }): Promise<LinkInfo> {
  const name = hostIfname(k)
  const mtu = f.mtu !== undefined ? { mtu: f.mtu } : {}
  const spec = { kind: 'veth', name, master: f.bridge, group: f.group, alias: f.alias, ...mtu, ...noLinkLocal(f.mtu), up: true, peer: { ...peer, netns: contNs } } as const
  const create = () => host.addLink(spec, { offLoop: true })
  const made = await create().catch(async (err: unknown) => {
    if (!isExists(err) || !(await clearLeftover(host, name, f))) throw err
    return create()
  })
  await cont.setLink(peer.name, { alias: f.alias, up: true, ...mtu })
  return made
}

/**
 * A veth attachment in two parts: the links, which need no address (ADD makes them while the reservation
 * is applied), then `address(ip)` once it is reserved: the address and the default route. Whether the
 * container has a default route already is asked beside the peer's set-up; the address, the route and
 * the container end's final look go in one pipeline (the kernel runs a socket's requests in order, so
 * the route's gateway is on the new subnet by the time it is added).
 */
export async function attachVeth(host: Rtnl, cont: Rtnl, contNs: Netns, k: AttachmentKey, f: NetworkFacts, mac: string): Promise<{ address(ip: string): Promise<MadeLinks> }> {
  // A container has one default route: a second attachment (another ifname, this network or another)
  // gets its address and subnet route only.
  const hasDefault = f.gateway === undefined ? Promise.resolve(true) : cont.listRoutes({ family: 4 }).then((rs) => rs.some((r) => r.dst === 'default'))
  const [made, routedAlready] = await Promise.allSettled([bridgeVeth(host, cont, contNs, k, f, { name: k.ifname, mac }), hasDefault])
  if (made.status === 'rejected') throw made.reason
  if (routedAlready.status === 'rejected') throw routedAlready.reason
  // The default route this attachment adds: none when the container has one, or the network routes nothing.
  const gateway = routedAlready.value ? undefined : f.gateway
  // The container end by its ifindex, the host end's IFLA_LINK (a veth's peer): the address, the route and
  // the final look then go out at once, with none of them asking for the index by name first (three
  // RTM_GETLINKs and a round trip through the pool on the ADD's last stretch).
  const end: LinkRef = made.value.parent ?? k.ifname
  return {
    address: async (ip) => {
      const addr = cont.addAddress(end, `${ip}/${f.prefixLength}`)
      const route = gateway !== undefined ? cont.addRoute({ dst: 'default', gateway, dev: end }) : undefined
      const container = cont.getLink(end)
      // Every request answered before the first failure is reported (nothing is in flight during the undo).
      const settled = await Promise.allSettled([addr, route, container])
      for (const r of settled) if (r.status === 'rejected') throw r.reason
      return { host: made.value, container: await container, defaultRoute: gateway !== undefined }
    },
  }
}

export async function attachTap(host: Rtnl, cont: Rtnl, contNs: Netns, k: AttachmentKey, f: NetworkFacts, mac: string, tap: TapOptions): Promise<MadeLinks> {
  const inner = innerIfname(k)
  const made = await bridgeVeth(host, cont, contNs, k, f, { name: inner })
  // Made down and raised once wired: no frame crosses before both redirects are in place.
  const tapLink = await cont.addLink({
    kind: 'tap',
    name: k.ifname,
    mac,
    alias: f.alias,
    vnetHdr: true,
    ...(tap.owner !== undefined ? { owner: tap.owner } : {}),
    ...(tap.group !== undefined ? { ownerGroup: tap.group } : {}),
    ...(tap.queues !== undefined ? { queues: tap.queues } : {}),
    ...(f.mtu !== undefined ? { mtu: f.mtu } : {}),
  })
  await wireRedirects(cont, (await cont.getLink(inner)).index, tapLink.index)
  await cont.setLink(k.ifname, { up: true })
  // The guest behind the tap gets its default route by DHCP; nothing is routed in the pod.
  return { host: made, container: await cont.getLink(k.ifname), defaultRoute: f.gateway !== undefined }
}

/**
 * Remove an attachment's links, each only if it is this attachment's: the host end (its veth peer goes
 * with it), and — when the container's namespace is still there — the tap and inner end, or a container
 * end whose host end had gone. Absent links are fine (DEL twice).
 */
export async function detachLinks(host: Rtnl | undefined, cont: Rtnl | undefined, k: AttachmentKey, alias: string, group: number | undefined): Promise<void> {
  if (host) {
    const l = await host.findLink(hostIfname(k))
    if (isOurs(l, alias, group)) await host.deleteLink(l.index).catch(ignoreNotFound)
  }
  if (cont) {
    for (const n of [k.ifname, innerIfname(k)]) {
      const l = await cont.findLink(n)
      if (isOurs(l, alias)) await cont.deleteLink(l.index).catch(ignoreNotFound)
    }
  }
}
