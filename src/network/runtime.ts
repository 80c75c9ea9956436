/**
 * Runtime additions: what addPort, addForward, addReservation and addPeer put on a running network beyond the
 * spec it was brought up with. They are recorded in the state, so that an `up` of a spec file that lacks
 * them (an operator re-applying lab.json while a VM runs on a port the orchestrator added) says what it
 * would remove instead of silently cutting a guest off.
 */
import type { NetworkSpec } from './spec.js'
import { dhcpHostsOf, dnsHostsOf, forwardsOf, hasDhcp, servesDns, takesForwards, vxlanSpecOf, withDhcpHosts, withDnsHosts, withForwards } from './kinds/spec-parts.js'
import type { HeldAdditions, RuntimeAdditions } from './state.js'
import { canonicalIp } from './vxlan.js'

export function emptyRuntime(): RuntimeAdditions {
  return { ports: [], forwards: [], reservations: [], peers: [] }
}

export function forwardKey(f: { proto: string; hostPort: number | readonly [number, number]; hostAddress?: string | undefined }): string {
  const port = typeof f.hostPort === 'number' ? `${f.hostPort}` : `${f.hostPort[0]}-${f.hostPort[1]}`
  return `${f.proto}/${port}${f.hostAddress ? `@${f.hostAddress}` : ''}`
}

/** The key of a DNS record (dns.hosts) in HeldAdditions. */
export function dnsHostKey(h: { name: string; ip: string }): string {
  return `${h.name}=${h.ip}`
}

function present(spec: NetworkSpec): { ports: Set<string>; forwards: Set<string>; reservations: Set<string>; peers: Set<string>; dnsHosts: Set<string> } {
  return {
    ports: new Set((spec.ports ?? []).map((p) => p.name)),
    forwards: new Set(forwardsOf(spec).map(forwardKey)),
    reservations: new Set(dhcpHostsOf(spec).map((h) => h.mac.toLowerCase())),
    peers: new Set((vxlanSpecOf(spec)?.peers ?? []).map(canonicalIp)),
    dnsHosts: new Set(dnsHostsOf(spec).map(dnsHostKey)),
  }
}

/**
 * `spec` with what live attachments hold (runtime.held) put back from the recorded spec `prev` where it
 * lacks them: the reservations, DNS records and forwards of a running pod survive a full `up` of a spec
 * file that never had them, pruning or not. What the new spec cannot hold (no DHCP range, not nat) is
 * left out, and shows as a removal.
 */
export function withHeld(spec: NetworkSpec, prev: NetworkSpec, runtime: RuntimeAdditions): NetworkSpec {
  const held = runtime.held
  if (!held) return spec
  const have = present(spec)
  let next = spec
  const hosts = dhcpHostsOf(prev).filter((h) => held.reservations.includes(h.mac.toLowerCase()) && !have.reservations.has(h.mac.toLowerCase()))
  if (hosts.length > 0 && hasDhcp(next)) next = withDhcpHosts(next, [...dhcpHostsOf(next), ...hosts])
  const records = dnsHostsOf(prev).filter((h) => held.dnsHosts.includes(dnsHostKey(h)) && !have.dnsHosts.has(dnsHostKey(h)))
  if (records.length > 0 && servesDns(next)) next = withDnsHosts(next, [...dnsHostsOf(next), ...records])
  const forwards = forwardsOf(prev).filter((f) => held.forwards.includes(forwardKey(f)) && !have.forwards.has(forwardKey(f)))
  if (forwards.length > 0 && takesForwards(next)) next = withForwards(next, [...forwardsOf(next), ...forwards])
  return next
}

/** Runtime additions that `spec` lacks, as `port vm2-tap0`, `forward tcp/8080`, `reservation 52:54:…`, `peer 192.0.2.9`. */
export function droppedRuntime(runtime: RuntimeAdditions, spec: NetworkSpec): string[] {
  const have = present(spec)
  return [
    ...runtime.ports.filter((p) => !have.ports.has(p)).map((p) => `port ${p}`),
    ...runtime.forwards.filter((f) => !have.forwards.has(f)).map((f) => `forward ${f}`),
    ...runtime.reservations.filter((m) => !have.reservations.has(m)).map((m) => `reservation ${m}`),
    ...(runtime.peers ?? []).filter((p) => !have.peers.has(p)).map((p) => `peer ${p}`),
    ...(runtime.held?.dnsHosts ?? []).filter((d) => !have.dnsHosts.has(d)).map((d) => `dns record ${d}`),
  ]
}

/** The runtime additions that `spec` still has (the others are pruned by applying it). */
export function keepRuntime(runtime: RuntimeAdditions, spec: NetworkSpec): RuntimeAdditions {
  const have = present(spec)
  return {
    ports: runtime.ports.filter((p) => have.ports.has(p)),
    forwards: runtime.forwards.filter((f) => have.forwards.has(f)),
    reservations: runtime.reservations.filter((m) => have.reservations.has(m)),
    peers: (runtime.peers ?? []).filter((p) => have.peers.has(p)),
    ...(runtime.held ? { held: keepHeld(runtime.held, have) } : {}),
  }
}

function keepHeld(held: HeldAdditions, have: ReturnType<typeof present>): HeldAdditions {
  return {
    reservations: held.reservations.filter((m) => have.reservations.has(m)),
    forwards: held.forwards.filter((f) => have.forwards.has(f)),
    dnsHosts: held.dnsHosts.filter((d) => have.dnsHosts.has(d)),
  }
}

export function unique(list: string[]): string[] {
  return [...new Set(list)]
}
