/**
 * A network's VXLAN segment, from its spec alone: the device's name, its parameters, the peers its
 * flooding entries lead to, the bytes of encapsulation the MTU gives up, and the checks relating the
 * fields to each other. The kernel side is in steps/vxlan.ts.
 */
import { ipaddr, sha256Hex } from '../util/index.js'
import { defaultBridgeName } from './names.js'
import type { IssueSink } from './spec.js'

/** IANA's VXLAN port (the kernel's default is still Linux's pre-standard 8472). */
export const VXLAN_PORT = 4789
/** Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD_IPV4 = 50
/** Outer Ethernet 14 + IPv6 40 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD_IPV6 = 70

/** The `vxlan` section of a bridged spec (spec.ts's schema checks each field's shape). */
export interface VxlanSection {
  vni: number
  local?: string | undefined
  port?: number | undefined
  underlay?: string | undefined
  peers?: readonly string[] | undefined
  group?: string | undefined
}

export interface PlannedVxlan {
  /** kvvx-<network>, cut to 15 bytes like the bridge's default name. */
  name: string
  vni: number
  port: number
  local?: string | undefined
  underlay?: string | undefined
  /** Remote VTEPs (canonical text form), each an all-zero-MAC FDB entry: head-end replication of floods. */
  peers: string[]
  /**
   * Whether kvmnet owns the device's flooding entries: only when the spec lists `peers` (even none). Left
   * out, they are someone else's — a BGP EVPN daemon's, say — and `up` neither adds nor removes any.
   */
  managePeers: boolean
  group?: string | undefined
  /** The underlay's address family (from local, the peers or the group; IPv4 when none is given). */
  family: 4 | 6
  /** Bytes the encapsulation adds, so the bridge's MTU is the underlay's minus this. */
  overhead: number
}

/** kvvx-<name>, or with a long name kvvx-<first 5 chars><5 hex of its hash> (the bridge's rule). */
export function vxlanName(network: string): string {
  const plain = `kvvx-${network}`
  if (plain.length <= 15) return plain
  return `kvvx-${network.slice(0, 5)}${sha256Hex(network).slice(0, 5)}`
}

/** The canonical text of an address, so 2001:DB8::2 and 2001:db8:0::2 are one peer. */
export function canonicalIp(ip: string): string {
  return ipaddr.parse(ip).toString()
}

function familyOf(ip: string): 4 | 6 {
  return ipaddr.parse(ip).kind() === 'ipv4' ? 4 : 6
}

export function planVxlan(network: string, v: VxlanSection | undefined): PlannedVxlan | undefined {
  if (!v) return undefined
  const peers = [...new Set((v.peers ?? []).map(canonicalIp))]
  const first = v.local ?? v.peers?.[0] ?? v.group
  const family = first !== undefined ? familyOf(first) : 4
  return {
    name: vxlanName(network),
    vni: v.vni,
    port: v.port ?? VXLAN_PORT,
    local: v.local !== undefined ? canonicalIp(v.local) : undefined,
    underlay: v.underlay,
    peers,
    managePeers: v.peers !== undefined,
    group: v.group !== undefined ? canonicalIp(v.group) : undefined,
    family,
    overhead: family === 4 ? VXLAN_OVERHEAD_IPV4 : VXLAN_OVERHEAD_IPV6,
  }
}

/** ipaddr.js ranges a VTEP's own or remote unicast address cannot be in. */
const NOT_A_VTEP = ['unspecified', 'multicast', 'broadcast', 'loopback']

/**
 * Relations inside `vxlan` and with the rest of the spec: one address family throughout (that of `local`
 * when given), unicast peers and a multicast group, not both, a group only with its underlay, and no port
 * or bridge named like the vxlan device.
 */
export function checkVxlan(
  spec: { name: string; bridge?: string | undefined; ports?: readonly { name: string }[] | undefined; vxlan?: VxlanSection | undefined },
  bad: IssueSink,
): void {
  const v = spec.vxlan
  if (!v) return
  const localFamily = v.local !== undefined ? familyOf(v.local) : undefined
  if (v.local !== undefined && NOT_A_VTEP.includes(ipaddr.parse(v.local).range())) bad('vxlan.local', `${v.local} is not a unicast address this host can send from`)
  const seen = new Map<string, number>()
  let peerFamily = localFamily
  v.peers?.forEach((p, i) => {
    const field = `vxlan.peers[${i}]`
    const f = familyOf(p)
    if (peerFamily === undefined) peerFamily = f
    else if (f !== peerFamily) {
      const other = localFamily !== undefined ? `vxlan.local is IPv${localFamily}` : `vxlan.peers[0] is IPv${peerFamily}`
      bad(field, `is IPv${f}, ${other}: one underlay family`)
      return
    }
    if (NOT_A_VTEP.includes(ipaddr.parse(p).range())) bad(field, `${p} is not a unicast address (a peer is another host's underlay address)`)
    const key = canonicalIp(p)
    if (v.local !== undefined && key === canonicalIp(v.local)) bad(field, 'is vxlan.local, this host itself')
    const prev = seen.get(key)
    if (prev !== undefined) bad(field, `duplicates vxlan.peers[${prev}]`)
    else seen.set(key, i)
  })
  if (v.group !== undefined) {
    if (ipaddr.parse(v.group).range() !== 'multicast') bad('vxlan.group', `${v.group} is not a multicast address`)
    else if (localFamily !== undefined && familyOf(v.group) !== localFamily) bad('vxlan.group', `is IPv${familyOf(v.group)}, vxlan.local is IPv${localFamily}: one underlay family`)
    if (v.peers !== undefined && v.peers.length > 0) bad('vxlan.group', 'floods go to the multicast group or to unicast peers: give one of group and peers')
    if (v.underlay === undefined) bad('vxlan.underlay', 'a multicast group is joined on a device: name it (the underlay)')
  }
  const name = vxlanName(spec.name)
  const bridge = spec.bridge ?? defaultBridgeName(spec.name)
  if (spec.bridge === name) bad('bridge', `is the name of the network's vxlan device`)
  spec.ports?.forEach((p, i) => {
    if (p.name === name) bad(`ports[${i}].name`, `is the name of the network's vxlan device`)
  })
  if (v.underlay !== undefined && (v.underlay === bridge || v.underlay === name))
    bad('vxlan.underlay', "is one of the network's own devices; the underlay carries the tunnel between hosts")
}

export interface VxlanChange {
  action: 'create' | 'change' | 'remove'
  what: string
}

function describeVxlan(v: PlannedVxlan): string {
  return [
    `vni ${v.vni}`,
    `port ${v.port}`,
    ...(v.local !== undefined ? [`local ${v.local}`] : []),
    ...(v.group !== undefined ? [`group ${v.group}`] : []),
    ...(v.underlay !== undefined ? [`underlay ${v.underlay}`] : []),
  ].join(' ')
}

/** What `up` would do to the vxlan and its peers, going from `before` to `after` (for `plan` / `--dry-run`). */
export function vxlanChanges(before: PlannedVxlan | undefined, after: PlannedVxlan | undefined, bridge: string | undefined, mtu: number | undefined): VxlanChange[] {
  const out: VxlanChange[] = []
  const mtuText = mtu !== undefined ? `mtu ${mtu}` : `mtu of the underlay - ${after?.overhead ?? VXLAN_OVERHEAD_IPV4}`
  if (before && !after) return [{ action: 'remove', what: `vxlan ${before.name}` }]
  if (!after) return []
  if (!before) out.push({ action: 'create', what: `vxlan ${after.name} ${describeVxlan(after)} on bridge ${bridge ?? '?'} (${mtuText})` })
  else if (describeVxlan(before) !== describeVxlan(after) || before.family !== after.family)
    out.push({ action: 'change', what: `vxlan ${after.name} ${describeVxlan(before)} -> ${describeVxlan(after)} (a new device)` })
  if (!after.managePeers) return out
  const had = new Set(before?.peers ?? [])
  const has = new Set(after.peers)
  for (const p of after.peers) if (!had.has(p)) out.push({ action: 'create', what: `vxlan peer ${p}` })
  for (const p of before?.peers ?? []) if (!has.has(p)) out.push({ action: 'remove', what: `vxlan peer ${p}` })
  return out
}
