/**
 * Checks on link specs and changes, done before any request is sent so bad input never half-creates
 * anything. The limits are the kernel's (IFNAMSIZ, IFALIASZ, ETH_MIN_MTU..IP_MAX_MTU, 24-bit VNI).
 */
import { ipaddr } from '../util/index.js'
import { SpecError } from '../errors.js'
import { Issues, join } from './issues.js'
import { ADDR_GEN_MODES, LINK_KINDS, type LinkChange, type LinkRef, type LinkSpec, type MacvlanMode } from './link-types.js'
import { isMac, isUsableUnicastMac } from './wire/mac.js'

export const IFNAMSIZ = 16
export const MIN_MTU = 68
export const MAX_MTU = 65535
const MACVLAN_MODES: readonly MacvlanMode[] = ['bridge', 'vepa', 'private', 'passthru', 'source']

/** Why `name` is not a valid interface name, or undefined (mirrors the kernel's dev_valid_name). */
export function badLinkName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'must be a non-empty string'
  if (Buffer.byteLength(name) > IFNAMSIZ - 1) return `'${name}' is ${Buffer.byteLength(name)} bytes; interface names are at most ${IFNAMSIZ - 1}`
  if (name === '.' || name === '..') return `'${name}' is not a valid interface name`
  if (/[/:\s]/.test(name)) return `'${name}' contains '/', ':' or whitespace`
  return undefined
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff
}

function checkRef(issues: Issues, field: string, ref: unknown): void {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref <= 0 || ref > 0x7fffffff) issues.add(field, 'ifindex must be a positive integer')
  } else {
    const bad = badLinkName(ref)
    if (bad) issues.add(field, bad)
  }
}

function checkMac(issues: Issues, field: string, mac: unknown): void {
  if (typeof mac !== 'string' || !isMac(mac)) issues.add(field, `'${String(mac)}' is not a MAC address (aa:bb:cc:dd:ee:ff)`)
  else if (!isUsableUnicastMac(mac)) issues.add(field, `${mac} is multicast or all-zero; a device needs a unicast MAC`)
}

function checkMtu(issues: Issues, field: string, mtu: unknown): void {
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU)
    issues.add(field, `${String(mtu)} is outside ${MIN_MTU}..${MAX_MTU}`)
}

function checkAlias(issues: Issues, field: string, alias: unknown): void {
  if (typeof alias !== 'string') issues.add(field, 'must be a string')
  else if (Buffer.byteLength(alias) > 255) issues.add(field, 'at most 255 bytes')
}

function checkIp(issues: Issues, field: string, v: unknown): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (typeof v !== 'string' || !ipaddr.isValid(v)) {
    issues.add(field, `'${String(v)}' is not an IP address`)
    return undefined
  }
  return ipaddr.parse(v)
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null
}

function isLinkKind(k: unknown): boolean {
  return LINK_KINDS.some((kind) => kind === k)
}

function checkCommon(issues: Issues, p: string, s: Record<string, unknown>): void {
  const bad = badLinkName(s.name)
  if (bad) issues.add(join(p, 'name'), bad)
  if (s.mtu !== undefined) checkMtu(issues, join(p, 'mtu'), s.mtu)
  if (s.mac !== undefined) checkMac(issues, join(p, 'mac'), s.mac)
  if (s.master !== undefined) checkRef(issues, join(p, 'master'), s.master)
  if (s.group !== undefined && !isU32(s.group)) issues.add(join(p, 'group'), 'must be an integer 0..4294967295')
  if (s.alias !== undefined) checkAlias(issues, join(p, 'alias'), s.alias)
  if (s.up !== undefined && typeof s.up !== 'boolean') issues.add(join(p, 'up'), 'must be a boolean')
  if (s.addrGenMode !== undefined) checkAddrGenMode(issues, join(p, 'addrGenMode'), s.addrGenMode)
}

function checkAddrGenMode(issues: Issues, field: string, mode: unknown): void {
  if (!(ADDR_GEN_MODES as readonly unknown[]).includes(mode)) issues.add(field, `must be one of ${ADDR_GEN_MODES.join(', ')}`)
}

/** Throws SpecError (field relative to `prefix`) when the spec cannot be created as given. */
export function validateLinkSpec(spec: LinkSpec, prefix = ''): void {
  const issues = new Issues()
  // Callers are typed, but specs come from JSON too: every field is checked as whatever it really is.
  const s: unknown = spec
  if (!isRecord(s)) throw new SpecError(prefix, 'link spec must be an object')
  if (!isLinkKind(s.kind)) {
    issues.add(join(prefix, 'kind'), `unknown kind '${String(s.kind)}' (expected ${LINK_KINDS.join(', ')})`)
    issues.throwIfAny()
  }
  checkCommon(issues, prefix, s)
  const f = (k: string): string => join(prefix, k)
  switch (spec.kind) {
    case 'bridge': {
      if (spec.stp !== undefined && typeof spec.stp !== 'boolean') issues.add(f('stp'), 'must be a boolean')
      if (spec.vlanFiltering !== undefined && typeof spec.vlanFiltering !== 'boolean') issues.add(f('vlanFiltering'), 'must be a boolean')
      if (spec.forwardDelay !== undefined) {
        const d = spec.forwardDelay
        if (typeof d !== 'number' || !Number.isFinite(d) || d < 0 || d * 100 > 0xffffffff) issues.add(f('forwardDelay'), 'must be a number of seconds >= 0')
        else if (spec.stp && (d < 2 || d > 30)) issues.add(f('forwardDelay'), `${d} s: with STP on the kernel allows 2..30 s`)
      }
      break
    }
    case 'veth': {
      const peer = spec.peer as VethPeerLike | undefined
      if (typeof peer !== 'object' || peer === null) {
        issues.add(f('peer'), 'a veth needs a peer { name }')
        break
      }
      const bad = badLinkName(peer.name)
      if (bad) issues.add(f('peer.name'), bad)
      else if (peer.name === spec.name && !peer.netns) issues.add(f('peer.name'), 'must differ from name when both ends are in the same namespace')
      if (peer.mac !== undefined) checkMac(issues, f('peer.mac'), peer.mac)
      if (peer.netns !== undefined && (typeof peer.netns !== 'object' || typeof peer.netns.path !== 'string'))
        issues.add(f('peer.netns'), 'must be a namespace reference { path }')
      break
    }
    case 'tap': {
      if (spec.owner !== undefined && !isU32(spec.owner)) issues.add(f('owner'), 'must be a uid')
      if (spec.ownerGroup !== undefined && !isU32(spec.ownerGroup)) issues.add(f('ownerGroup'), 'must be a gid')
      if (spec.queues !== undefined && (!Number.isInteger(spec.queues) || spec.queues < 1 || spec.queues > 256))
        issues.add(f('queues'), 'must be an integer 1..256')
      if (spec.vnetHdr !== undefined && typeof spec.vnetHdr !== 'boolean') issues.add(f('vnetHdr'), 'must be a boolean')
      break
    }
    case 'macvlan':
    case 'macvtap': {
      if (spec.parent === undefined) issues.add(f('parent'), `a ${spec.kind} needs a parent device`)
      else checkRef(issues, f('parent'), spec.parent)
      if (spec.mode !== undefined && !MACVLAN_MODES.includes(spec.mode)) issues.add(f('mode'), `must be one of ${MACVLAN_MODES.join(', ')}`)
      break
    }
    case 'ifb': {
      if (spec.txQueueLen !== undefined && !isU32(spec.txQueueLen)) issues.add(f('txQueueLen'), 'must be a number of packets')
      break
    }
    case 'vxlan': {
      if (!Number.isInteger(spec.vni) || spec.vni < 0 || spec.vni > 0xffffff) issues.add(f('vni'), `${String(spec.vni)} is outside 0..16777215`)
      if (spec.port !== undefined && (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535)) issues.add(f('port'), 'must be 1..65535')
      if (spec.parent !== undefined) checkRef(issues, f('parent'), spec.parent)
      if (spec.learning !== undefined && typeof spec.learning !== 'boolean') issues.add(f('learning'), 'must be a boolean')
      const local = spec.local !== undefined ? checkIp(issues, f('local'), spec.local) : undefined
      const remote = spec.remote !== undefined ? checkIp(issues, f('remote'), spec.remote) : undefined
      const group = spec.multicastGroup !== undefined ? checkIp(issues, f('multicastGroup'), spec.multicastGroup) : undefined
      if (remote && group) issues.add(f('remote'), 'remote and multicastGroup are exclusive')
      if (remote && remote.range() === 'multicast') issues.add(f('remote'), 'must be unicast (use multicastGroup for a group)')
      if (group && group.range() !== 'multicast') issues.add(f('multicastGroup'), 'must be a multicast address')
      if (group && spec.parent === undefined) issues.add(f('parent'), 'a multicast vxlan needs a parent device')
      const families = [local, remote, group].filter((a) => a !== undefined).map((a) => a.kind())
      if (new Set(families).size > 1) issues.add(f('local'), 'local, remote and multicastGroup must be of one address family')
      break
    }
  }
  issues.throwIfAny()
}

interface VethPeerLike {
  name?: unknown
  mac?: unknown
  netns?: { path?: unknown }
}

export function validateLinkRef(ref: LinkRef, field: string): void {
  const issues = new Issues()
  checkRef(issues, field, ref)
  issues.throwIfAny()
}

export function validateLinkChange(change: LinkChange, prefix = ''): void {
  const issues = new Issues()
  const f = (k: string): string => join(prefix, k)
  if (typeof change !== 'object' || change === null) throw new SpecError(prefix, 'change must be an object')
  if (change.up !== undefined && typeof change.up !== 'boolean') issues.add(f('up'), 'must be a boolean')
  if (change.mtu !== undefined) checkMtu(issues, f('mtu'), change.mtu)
  if (change.mac !== undefined) checkMac(issues, f('mac'), change.mac)
  if (change.master !== undefined && change.master !== null) checkRef(issues, f('master'), change.master)
  if (change.alias !== undefined) checkAlias(issues, f('alias'), change.alias)
  if (change.group !== undefined && !isU32(change.group)) issues.add(f('group'), 'must be an integer 0..4294967295')
  if (change.name !== undefined) {
    const bad = badLinkName(change.name)
    if (bad) issues.add(f('name'), bad)
  }
  if (change.netns !== undefined && (typeof change.netns !== 'object' || typeof change.netns.path !== 'string'))
    issues.add(f('netns'), 'must be a namespace reference { path }')
  if (change.addrGenMode !== undefined) checkAddrGenMode(issues, f('addrGenMode'), change.addrGenMode)
  issues.throwIfAny()
}
