/**
 * Changes to one part of a running network, as pure edits of (spec, runtime additions): the handle's
 * addForward/addReservation/addPeer/addPort and their removals, and kvmnet-cni's attachments, all
 * decided under the network's lock from what is recorded, then validated and applied. Each addition is
 * recorded as a runtime addition, so that an `up` of a spec file that lacks it says what it would remove.
 */
import { ipaddr } from '../util/index.js'
import { NotFoundError, SpecError, WouldRemoveError } from '../errors.js'
import { dhcpHostsOf, dnsHostsOf, forwardsOf, vxlanSpecOf, withDhcpHosts, withDnsHosts, withForwards, withPort, withoutPort, withVxlan } from './kinds/index.js'
import { droppedRuntime, emptyRuntime, forwardKey, keepRuntime, unique, withHeld } from './runtime.js'
import type { DhcpHostSpec, DnsHostSpec, ForwardSpec, NetworkSpec, PortSpec } from './spec.js'
import type { NetworkState, RuntimeAdditions } from './state.js'
import { validateSpec } from './validate.js'
import { canonicalIp } from './vxlan.js'

/** A spec and its runtime additions, as an edit leaves them. */
export type Edited = [NetworkSpec, RuntimeAdditions]

/**
 * A full `up` of `spec` over what is recorded (`prev`): what live attachments hold stays, prune or not
 * (HeldAdditions); other runtime additions the spec lacks are a WouldRemoveError unless pruned.
 */
export function fullSpecEdit(spec: NetworkSpec, prev: NetworkState | undefined, opts: { prune: boolean }): Edited {
  const runtime = prev?.runtime ?? emptyRuntime()
  const merged = prev?.runtime?.held ? validateSpec(withHeld(spec, prev.spec, runtime)) : spec
  const dropped = droppedRuntime(runtime, merged)
  if (dropped.length > 0 && !opts.prune) throw new WouldRemoveError(spec.name, dropped)
  return [merged, keepRuntime(runtime, merged)]
}

/** A port added (or replacing the port of its name). */
export function addPortEdit(spec: NetworkSpec, runtime: RuntimeAdditions, port: PortSpec): Edited {
  return [withPort(spec, port), { ...runtime, ports: unique([...runtime.ports, port.name]) }]
}

/** A port removed; NotFoundError when the network has none of that name. */
export function removePortEdit(spec: NetworkSpec, runtime: RuntimeAdditions, name: string): Edited {
  if (!(spec.ports ?? []).some((p) => p.name === name)) throw new NotFoundError(`port ${name}`)
  return [withoutPort(spec, name), { ...runtime, ports: runtime.ports.filter((p) => p !== name) }]
}

/** A port forward added (validating the edited spec refuses one that overlaps another's host port). */
export function addForwardEdit(spec: NetworkSpec, runtime: RuntimeAdditions, f: ForwardSpec): Edited {
  return [withForwards(spec, [...forwardsOf(spec), f]), { ...runtime, forwards: unique([...runtime.forwards, forwardKey(f)]) }]
}

/** The forward of (proto, host port, host address) removed; NotFoundError when there is none. */
export function removeForwardEdit(spec: NetworkSpec, runtime: RuntimeAdditions, f: Pick<ForwardSpec, 'proto' | 'hostPort'> & { hostAddress?: string | undefined }): Edited {
  const key = forwardKey(f)
  const have = forwardsOf(spec)
  const forwards = have.filter((g) => forwardKey(g) !== key)
  if (forwards.length === have.length) throw new NotFoundError(`forward ${f.proto}/${JSON.stringify(f.hostPort)}`)
  return [withForwards(spec, forwards), { ...runtime, forwards: runtime.forwards.filter((k) => k !== key) }]
}

/** Forwards to `guest` removed, but only those added at runtime (an operator's own are never touched). */
export function removeRuntimeForwardsTo(spec: NetworkSpec, runtime: RuntimeAdditions, guest: string): Edited {
  const added = new Set(runtime.forwards)
  const have = forwardsOf(spec)
  const drop = have.filter((f) => f.guest === guest && added.has(forwardKey(f)))
  if (drop.length === 0) return [spec, runtime]
  const keys = new Set(drop.map(forwardKey))
  return [withForwards(spec, have.filter((f) => !drop.includes(f))), { ...runtime, forwards: runtime.forwards.filter((k) => !keys.has(k)) }]
}

/** A DHCP reservation added (validating the edited spec refuses a MAC or address reserved twice). */
export function addReservationEdit(spec: NetworkSpec, runtime: RuntimeAdditions, h: DhcpHostSpec): Edited {
  return [withDhcpHosts(spec, [...dhcpHostsOf(spec), h]), { ...runtime, reservations: unique([...runtime.reservations, h.mac.toLowerCase()]) }]
}

/** The reservations of a MAC (or of an IP) removed; NotFoundError when there is none. */
export function removeReservationEdit(spec: NetworkSpec, runtime: RuntimeAdditions, macOrIp: string): Edited {
  const key = macOrIp.toLowerCase()
  const have = dhcpHostsOf(spec)
  const gone = have.filter((h) => h.mac.toLowerCase() === key || h.ip === key)
  if (gone.length === 0) throw new NotFoundError(`reservation ${macOrIp}`)
  const macs = new Set(gone.map((h) => h.mac.toLowerCase()))
  return [withDhcpHosts(spec, have.filter((h) => !gone.includes(h))), { ...runtime, reservations: runtime.reservations.filter((m) => !macs.has(m)) }]
}

/** A DNS record added (an identical one is not doubled). */
export function addDnsHostEdit(spec: NetworkSpec, runtime: RuntimeAdditions, h: DnsHostSpec): Edited {
  const have = dnsHostsOf(spec)
  if (have.some((x) => x.name.toLowerCase() === h.name.toLowerCase() && x.ip === h.ip)) return [spec, runtime]
  return [withDnsHosts(spec, [...have, h]), runtime]
}

/** DNS records removed (by name and address). */
export function removeDnsHostsEdit(spec: NetworkSpec, runtime: RuntimeAdditions, drop: readonly DnsHostSpec[]): Edited {
  const have = dnsHostsOf(spec)
  const keep = have.filter((x) => !drop.some((d) => d.name.toLowerCase() === x.name.toLowerCase() && d.ip === x.ip))
  if (keep.length === have.length) return [spec, runtime]
  return [withDnsHosts(spec, keep), runtime]
}

/** A VXLAN peer added (one already there changes nothing). */
export function addPeerEdit(spec: NetworkSpec, runtime: RuntimeAdditions, ip: string): Edited {
  const vxlan = vxlanSpecOf(spec)
  if (!vxlan) throw new SpecError('vxlan', `network ${spec.name} has no vxlan segment (add one to its spec and run up)`)
  if (typeof ip !== 'string' || !ipaddr.isValid(ip) || ip.includes('%')) throw new SpecError('vxlan.peers', `'${String(ip)}' is not an IP address`)
  const key = canonicalIp(ip)
  const have = vxlan.peers ?? []
  const peers = have.some((p) => canonicalIp(p) === key) ? have : [...have, ip]
  return [withVxlan(spec, { ...vxlan, peers }), { ...runtime, peers: unique([...(runtime.peers ?? []), key]) }]
}

/** A VXLAN peer removed; NotFoundError when it is not one. */
export function removePeerEdit(spec: NetworkSpec, runtime: RuntimeAdditions, ip: string): Edited {
  const vxlan = vxlanSpecOf(spec)
  if (!vxlan) throw new SpecError('vxlan', `network ${spec.name} has no vxlan segment (add one to its spec and run up)`)
  const key = ipaddr.isValid(ip) ? canonicalIp(ip) : ip
  const have = vxlan.peers ?? []
  const peers = have.filter((p) => canonicalIp(p) !== key)
  if (peers.length === have.length) throw new NotFoundError(`peer ${ip}`, `${ip} is not a vxlan peer of ${spec.name}`)
  return [withVxlan(spec, { ...vxlan, peers }), { ...runtime, peers: (runtime.peers ?? []).filter((p) => p !== key) }]
}
