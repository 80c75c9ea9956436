/**
 * Runtime additions: what addPort, addForward, addReservation and addPeer put on a running network beyond the
 * spec it was brought up with. They are recorded in the state, so that an `up` of a spec file that lacks
 * them (an operator re-applying lab.json while a VM runs on a port the orchestrator added) says what it
 * would remove instead of silently cutting a guest off.
 */
import type { ForwardSpec, NetworkSpec } from './spec.js'
import type { RuntimeAdditions } from './state.js'
import { canonicalIp } from './vxlan.js'

export function emptyRuntime(): RuntimeAdditions {
  return { ports: [], forwards: [], reservations: [], peers: [] }
}

export function forwardKey(f: { proto: string; hostPort: number | readonly [number, number]; hostAddress?: string | undefined }): string {
  const port = typeof f.hostPort === 'number' ? `${f.hostPort}` : `${f.hostPort[0]}-${f.hostPort[1]}`
  return `${f.proto}/${port}${f.hostAddress ? `@${f.hostAddress}` : ''}`
}

function present(spec: NetworkSpec): { ports: Set<string>; forwards: Set<string>; reservations: Set<string>; peers: Set<string> } {
  const ipv4 = 'ipv4' in spec ? spec.ipv4 : undefined
  const dhcp = ipv4 && 'dhcp' in ipv4 ? ipv4.dhcp : undefined
  const vxlan = 'vxlan' in spec ? spec.vxlan : undefined
  return {
    ports: new Set((spec.ports ?? []).map((p) => p.name)),
    forwards: new Set((spec.mode === 'nat' ? (spec.forwards ?? []) : []).map(forwardKey)),
    reservations: new Set((dhcp?.hosts ?? []).map((h) => h.mac.toLowerCase())),
    peers: new Set((vxlan?.peers ?? []).map(canonicalIp)),
  }
}

/** Runtime additions that `spec` lacks, as `port vm2-tap0`, `forward tcp/8080`, `reservation 52:54:…`, `peer 192.0.2.9`. */
export function droppedRuntime(runtime: RuntimeAdditions, spec: NetworkSpec): string[] {
  const have = present(spec)
  return [
    ...runtime.ports.filter((p) => !have.ports.has(p)).map((p) => `port ${p}`),
    ...runtime.forwards.filter((f) => !have.forwards.has(f)).map((f) => `forward ${f}`),
    ...runtime.reservations.filter((m) => !have.reservations.has(m)).map((m) => `reservation ${m}`),
    ...(runtime.peers ?? []).filter((p) => !have.peers.has(p)).map((p) => `peer ${p}`),
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
  }
}

export function unique(list: string[]): string[] {
  return [...new Set(list)]
}
