/**
 * RTM_*LINK requests from typed specs, and LinkInfo from RTM_NEWLINK replies. Pure: names that need the
 * kernel (a master's ifindex, a namespace fd) are resolved by the caller and passed in.
 */
import { ipaddr } from '../util/index.js'
import {
  AF_INET6, AF_UNSPEC, IFF_UP,
  IFLA_ADDRESS, IFLA_AF_SPEC, IFLA_EXT_MASK, IFLA_GROUP, IFLA_IFALIAS, IFLA_IFNAME, IFLA_INET6_ADDR_GEN_MODE,
  IFLA_LINK, IFLA_LINKINFO, IFLA_LINK_NETNSID, IFLA_MACVLAN_MODE, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD,
  IFLA_OPERSTATE, IFLA_TXQLEN, IFLA_BR_FORWARD_DELAY, IFLA_BR_STP_STATE, IFLA_BR_VLAN_FILTERING,
  IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_INFO_SLAVE_KIND,
  IFLA_TUN_GROUP, IFLA_TUN_MULTI_QUEUE, IFLA_TUN_NUM_QUEUES, IFLA_TUN_OWNER, IFLA_TUN_PERSIST, IFLA_TUN_TYPE, IFLA_TUN_VNET_HDR,
  IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6, IFLA_VXLAN_ID, IFLA_VXLAN_LEARNING, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  MACVLAN_MODE_BRIDGE, MACVLAN_MODE_PASSTHRU, MACVLAN_MODE_PRIVATE, MACVLAN_MODE_SOURCE, MACVLAN_MODE_VEPA,
  NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST,
  NLMSG_HDRLEN, NLA_HDRLEN, OPER_STATES, RTEXT_FILTER_SKIP_STATS, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, VETH_INFO_PEER,
} from './wire/constants.js'
import { AttrIndex, align4, attr, attrOffset, findAttr, attrString, attrU16be, attrU32, attrU8, nested, readS32, readString, readU16be, readU32, readU8, stringAt, u32At } from './wire/attrs.js'
import { encodeMessage } from './wire/header.js'
import { decodeIfInfoMsg, encodeIfInfoMsg, IFINFOMSG_LEN } from './wire/ifinfomsg.js'
import { bytesToMac, macToBytes } from './wire/mac.js'
import { ipBytes, ipString } from './wire/ip.js'
import { ADDR_GEN_MODES, type AddrGenMode, type LinkInfo, type LinkSelection, type LinkSpec, type MacvlanMode, type TunData, type VxlanData } from './link-types.js'

export const MACVLAN_MODE_VALUES: Readonly<Record<MacvlanMode, number>> = {
  private: MACVLAN_MODE_PRIVATE,
  vepa: MACVLAN_MODE_VEPA,
  bridge: MACVLAN_MODE_BRIDGE,
  passthru: MACVLAN_MODE_PASSTHRU,
  source: MACVLAN_MODE_SOURCE,
}

export const DEFAULT_VXLAN_PORT = 4789
/** USER_HZ: the bridge's time attributes are clock_t. */
const CLOCK_T_PER_SECOND = 100
const TUN_TYPE_TAP = 2

/** Where a request points: by ifindex, or by IFLA_IFNAME when the index is not known. */
export type LinkTarget = { index: number } | { name: string }

/** Values the caller looked up in the kernel before building a create request. */
export interface ResolvedCreate {
  master?: number
  parent?: number
  /** ifi_index to ask for (macvtap: chosen so /dev/tapN is free). */
  index?: number
  /** fd of the namespace file the veth peer goes to. */
  peerNetnsFd?: number
}

function targetHeader(t: LinkTarget, extra: { flags?: number; change?: number } = {}): { ifi: Buffer; nameAttr: Buffer[] } {
  const index = 'index' in t ? t.index : 0
  return {
    ifi: encodeIfInfoMsg({ family: AF_UNSPEC, index, flags: extra.flags ?? 0, change: extra.change ?? 0 }),
    nameAttr: 'name' in t ? [attrString(IFLA_IFNAME, t.name)] : [],
  }
}

function kindData(spec: LinkSpec, r: ResolvedCreate): Buffer[] {
  switch (spec.kind) {
    case 'bridge': {
      const d: Buffer[] = []
      if (spec.forwardDelay !== undefined) d.push(attrU32(IFLA_BR_FORWARD_DELAY, Math.round(spec.forwardDelay * CLOCK_T_PER_SECOND)))
      if (spec.stp !== undefined) d.push(attrU32(IFLA_BR_STP_STATE, spec.stp ? 1 : 0))
      // Only when wanted: off is the default, and kernels built without VLAN filtering refuse the
      // attribute (EOPNOTSUPP) whatever its value.
      if (spec.vlanFiltering) d.push(attrU8(IFLA_BR_VLAN_FILTERING, 1))
      return d
    }
    case 'veth': {
      const peer: Buffer[] = [encodeIfInfoMsg(), attrString(IFLA_IFNAME, spec.peer.name)]
      if (spec.peer.mac) peer.push(attr(IFLA_ADDRESS, macToBytes(spec.peer.mac)))
      if (r.peerNetnsFd !== undefined) peer.push(attrU32(IFLA_NET_NS_FD, r.peerNetnsFd))
      return [attr(VETH_INFO_PEER, Buffer.concat(peer))]
    }
    case 'macvlan':
    case 'macvtap':
      return spec.mode ? [attrU32(IFLA_MACVLAN_MODE, MACVLAN_MODE_VALUES[spec.mode])] : []
    case 'vxlan': {
      const d: Buffer[] = [attrU32(IFLA_VXLAN_ID, spec.vni)]
      const far = spec.remote ?? spec.multicastGroup
      if (far !== undefined) {
        const a = ipaddr.parse(far)
        d.push(attr(a.kind() === 'ipv4' ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6, ipBytes(a)))
      }
      if (spec.local !== undefined) {
        const a = ipaddr.parse(spec.local)
        d.push(attr(a.kind() === 'ipv4' ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, ipBytes(a)))
      }
      if (r.parent !== undefined) d.push(attrU32(IFLA_VXLAN_LINK, r.parent))
      d.push(attrU16be(IFLA_VXLAN_PORT, spec.port ?? DEFAULT_VXLAN_PORT))
      if (spec.learning !== undefined) d.push(attrU8(IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0))
      return d
    }
    case 'ifb':
      return []
    case 'tap':
      throw new TypeError('taps are created through src/tap, not RTM_NEWLINK')
  }
}

/** RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL: create exactly this link or fail. */
export function encodeCreateLink(spec: LinkSpec, r: ResolvedCreate = {}): Buffer {
  const up = spec.up ? IFF_UP : 0
  const ifi = encodeIfInfoMsg({ family: AF_UNSPEC, index: r.index ?? 0, flags: up, change: up })
  const attrs: Buffer[] = [attrString(IFLA_IFNAME, spec.name)]
  if (spec.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, spec.mtu))
  if (spec.mac !== undefined) attrs.push(attr(IFLA_ADDRESS, macToBytes(spec.mac)))
  if (r.master !== undefined) attrs.push(attrU32(IFLA_MASTER, r.master))
  if (spec.group !== undefined) attrs.push(attrU32(IFLA_GROUP, spec.group))
  if (spec.kind === 'ifb' && spec.txQueueLen !== undefined) attrs.push(attrU32(IFLA_TXQLEN, spec.txQueueLen))
  // No IFLA_IFALIAS: the create path ignores it (links.ts sets it with a second request).
  if ((spec.kind === 'macvlan' || spec.kind === 'macvtap') && r.parent !== undefined) attrs.push(attrU32(IFLA_LINK, r.parent))
  const data = kindData(spec, r)
  const info = [attrString(IFLA_INFO_KIND, spec.kind)]
  if (data.length > 0) info.push(nested(IFLA_INFO_DATA, data))
  attrs.push(nested(IFLA_LINKINFO, info))
  return encodeMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, [ifi, ...attrs])
}

export interface ResolvedChange {
  up?: boolean
  mtu?: number
  mac?: string
  /** 0 releases the link from its master. */
  master?: number
  alias?: string
  group?: number
  name?: string
  netnsFd?: number
  /** IN6_ADDR_GEN_MODE_*: see ADDR_GEN_MODE_VALUES. */
  addrGenMode?: number
}

/** The kernel's IN6_ADDR_GEN_MODE_* for each LinkChange.addrGenMode. */
export const ADDR_GEN_MODE_VALUES: Readonly<Record<AddrGenMode, number>> = { eui64: 0, none: 1, 'stable-privacy': 2, random: 3 }

/** IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE u8 } }: 4 + 4 + 4 + 1, the u8 padded to 4. */
const AF_SPEC_GEN_MODE_LEN = 16

/** RTM_NEWLINK without NLM_F_CREATE: change an existing link (what `ip link set` sends). */
export function encodeSetLink(target: LinkTarget, c: ResolvedChange): Buffer {
  if (c.name !== undefined && !('index' in target)) throw new TypeError('a rename must target the link by index')
  // Sized, then written in place: one allocation per message, where building it from parts made eight
  // (a thousand taps tagged, then enslaved, are 2000 of these in a row, most of it in a cold CLI process).
  // The same bytes as encodeMessage over [ifinfomsg, attrs…] in this order (test/unit/rtnl-wire.test.ts).
  const targetName = 'name' in target ? target.name : undefined
  const strLen = (v: string): number => align4(NLA_HDRLEN + Buffer.byteLength(v, 'utf8') + 1)
  const mac = c.mac !== undefined ? c.mac.split(':') : undefined
  let len = NLMSG_HDRLEN + IFINFOMSG_LEN
  if (targetName !== undefined) len += strLen(targetName)
  if (c.name !== undefined) len += strLen(c.name)
  if (mac !== undefined) len += align4(NLA_HDRLEN + mac.length)
  if (c.alias !== undefined) len += strLen(c.alias)
  for (const v of [c.mtu, c.master, c.group, c.netnsFd]) if (v !== undefined) len += NLA_HDRLEN + 4
  if (c.addrGenMode !== undefined) len += AF_SPEC_GEN_MODE_LEN
  const out = Buffer.alloc(len)
  out.writeUInt32LE(len, 0)
  out.writeUInt16LE(RTM_NEWLINK, 4)
  out.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6)
  let off = NLMSG_HDRLEN
  out.writeUInt8(AF_UNSPEC, off)
  out.writeInt32LE('index' in target ? target.index : 0, off + 4)
  if (c.up !== undefined) {
    out.writeUInt32LE(c.up ? IFF_UP : 0, off + 8)
    out.writeUInt32LE(IFF_UP, off + 12)
  }
  off += IFINFOMSG_LEN
  const str = (type: number, v: string): void => {
    const n = out.write(v, off + NLA_HDRLEN, 'utf8')
    out.writeUInt16LE(NLA_HDRLEN + n + 1, off)
    out.writeUInt16LE(type, off + 2)
    off += align4(NLA_HDRLEN + n + 1)
  }
  const u32 = (type: number, v: number | undefined): void => {
    if (v === undefined) return
    out.writeUInt16LE(NLA_HDRLEN + 4, off)
    out.writeUInt16LE(type, off + 2)
    out.writeUInt32LE(v >>> 0, off + NLA_HDRLEN)
    off += NLA_HDRLEN + 4
  }
  if (targetName !== undefined) str(IFLA_IFNAME, targetName)
  if (c.name !== undefined) str(IFLA_IFNAME, c.name)
  u32(IFLA_MTU, c.mtu)
  if (mac !== undefined) {
    out.writeUInt16LE(NLA_HDRLEN + mac.length, off)
    out.writeUInt16LE(IFLA_ADDRESS, off + 2)
    for (let i = 0; i < mac.length; i++) out[off + NLA_HDRLEN + i] = parseInt(mac[i]!, 16)
    off += align4(NLA_HDRLEN + mac.length)
  }
  u32(IFLA_MASTER, c.master)
  u32(IFLA_GROUP, c.group)
  if (c.alias !== undefined) str(IFLA_IFALIAS, c.alias)
  u32(IFLA_NET_NS_FD, c.netnsFd)
  if (c.addrGenMode !== undefined) {
    // Nested without NLA_F_NESTED, as iproute2 sends it (the kernel walks IFLA_AF_SPEC either way).
    out.writeUInt16LE(AF_SPEC_GEN_MODE_LEN, off)
    out.writeUInt16LE(IFLA_AF_SPEC, off + 2)
    out.writeUInt16LE(AF_SPEC_GEN_MODE_LEN - NLA_HDRLEN, off + 4)
    out.writeUInt16LE(AF_INET6, off + 6)
    out.writeUInt16LE(NLA_HDRLEN + 1, off + 8)
    out.writeUInt16LE(IFLA_INET6_ADDR_GEN_MODE, off + 10)
    out.writeUInt8(c.addrGenMode, off + 12)
    off += AF_SPEC_GEN_MODE_LEN
  }
  return out
}

export function encodeDeleteLink(target: LinkTarget): Buffer {
  const { ifi, nameAttr } = targetHeader(target)
  return encodeMessage(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, [ifi, ...nameAttr])
}

/** One RTM_DELLINK for a whole link group, like `ip link delete group N`. */
export function encodeDeleteGroup(group: number): Buffer {
  return encodeMessage(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, [encodeIfInfoMsg(), attrU32(IFLA_GROUP, group)])
}

export function encodeGetLink(target: LinkTarget): Buffer {
  const { ifi, nameAttr } = targetHeader(target)
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, [ifi, ...nameAttr, attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)])
}

/** A link dump, filtered in the kernel (strict checking on) by master and/or kind. */
export function encodeDumpLinks(filter: { master?: number; kind?: string } = {}): Buffer {
  const attrs: Buffer[] = [attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)]
  if (filter.master !== undefined) attrs.push(attrU32(IFLA_MASTER, filter.master))
  if (filter.kind !== undefined) attrs.push(nested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, filter.kind)]))
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, [encodeIfInfoMsg(), ...attrs])
}

function macvlanMode(v: number): MacvlanMode | number {
  const hit = (Object.entries(MACVLAN_MODE_VALUES) as [MacvlanMode, number][]).find(([, n]) => n === v)
  return hit ? hit[0] : v
}

/** The attributes a kind's data is read from (an AttrIndex; a Map in tests). */
type Attrs = { get(type: number): Buffer | undefined }

function decodeVxlan(d: Attrs): VxlanData {
  const far = d.get(IFLA_VXLAN_GROUP) ?? d.get(IFLA_VXLAN_GROUP6)
  const farIp = far && far.some((b) => b !== 0) ? ipString(far) : undefined
  const local = d.get(IFLA_VXLAN_LOCAL) ?? d.get(IFLA_VXLAN_LOCAL6)
  const multicast = farIp !== undefined && ipaddr.parse(farIp).range() === 'multicast'
  const parent = readU32(d.get(IFLA_VXLAN_LINK))
  const learning = readU8(d.get(IFLA_VXLAN_LEARNING))
  return {
    vni: readU32(d.get(IFLA_VXLAN_ID)) ?? 0,
    port: readU16be(d.get(IFLA_VXLAN_PORT)),
    local: local && local.some((b) => b !== 0) ? ipString(local) : undefined,
    remote: multicast ? undefined : farIp,
    multicastGroup: multicast ? farIp : undefined,
    parent: parent ? parent : undefined,
    learning: learning === undefined ? undefined : learning === 1,
  }
}

function decodeTun(d: Attrs): TunData {
  const owner = readU32(d.get(IFLA_TUN_OWNER))
  const group = readU32(d.get(IFLA_TUN_GROUP))
  // (uid_t)-1 means "anyone": report it as absent.
  return {
    type: readU8(d.get(IFLA_TUN_TYPE)) === TUN_TYPE_TAP ? 'tap' : 'tun',
    owner: owner === 0xffffffff ? undefined : owner,
    group: group === 0xffffffff ? undefined : group,
    persist: readU8(d.get(IFLA_TUN_PERSIST)) === 1,
    vnetHdr: readU8(d.get(IFLA_TUN_VNET_HDR)) === 1,
    multiQueue: readU8(d.get(IFLA_TUN_MULTI_QUEUE)) === 1,
    queues: readU32(d.get(IFLA_TUN_NUM_QUEUES)),
  }
}

/** A link message's index and name, read without decoding the rest. */
export function linkIndexAndName(payload: Buffer): [number, string] {
  return [decodeIfInfoMsg(payload).index, readString(findAttr(payload, IFLA_IFNAME, IFINFOMSG_LEN)) ?? '']
}

/** Whether a link message matches a selection (see LinkFilter.anyOf), read without decoding it. */
export function linkSelected(payload: Buffer, sel: LinkSelection, start = 0, end = payload.length): boolean {
  return linkSelector(sel)(payload, start, end)
}

/**
 * linkSelected for many messages (a dump's): the names and aliases encoded once, each link's compared as
 * bytes in the datagram. Making a string of every link's name and alias to look it up was, in a namespace
 * of a thousand ports, most of what the one full dump an `up` takes allocated (issue 21, RSS).
 */
export function linkSelector(sel: LinkSelection): (payload: Buffer, start: number, end: number) => boolean {
  const names = sel.names && sel.names.size > 0 ? byteSet(sel.names) : undefined
  const aliases = sel.aliases && sel.aliases.size > 0 ? byteSet(sel.aliases) : undefined
  return (payload, start, end) => {
    const attrs = start + IFINFOMSG_LEN
    if (sel.group !== undefined && (u32At(payload, attrOffset(payload, IFLA_GROUP, attrs, end)) ?? 0) === sel.group) return true
    if (names && stringAtIn(payload, attrOffset(payload, IFLA_IFNAME, attrs, end), names)) return true
    if (aliases && stringAtIn(payload, attrOffset(payload, IFLA_IFALIAS, attrs, end), aliases)) return true
    return false
  }
}

/** UTF-8 encodings of a set of strings, by a hash of their bytes (hashOf). */
type ByteSet = Map<number, Buffer[]>

function byteSet(strings: ReadonlySet<string>): ByteSet {
  const out: ByteSet = new Map()
  for (const s of strings) {
    const b = Buffer.from(s, 'utf8')
    const h = hashOf(b, 0, b.length)
    const same = out.get(h)
    if (same) same.push(b)
    else out.set(h, [b])
  }
  return out
}

/** FNV-1a of buf[from, to), in JS: a call into Buffer's C++ per link and candidate cost more than the strings saved. */
function hashOf(buf: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193)
  return h >>> 0
}

/** Whether the string attribute at `off` (as stringAt reads it: up to its NUL) is one of `set`, without making it a string. */
function stringAtIn(buf: Buffer, off: number, set: ByteSet): boolean {
  if (off < 0) return false
  const end = off + (buf[off]! | (buf[off + 1]! << 8))
  const from = off + NLA_HDRLEN
  let to = from
  while (to < end && buf[to] !== 0) to++
  const candidates = set.get(hashOf(buf, from, to))
  if (!candidates) return false
  outer: for (const c of candidates) {
    if (c.length !== to - from) continue
    for (let i = 0; i < c.length; i++) if (c[i] !== buf[from + i]) continue outer
    return true
  }
  return false
}

/** Whether a link message is in `group` (IFLA_GROUP, 0 when absent), read in place. */
export function linkInGroup(buf: Buffer, group: number, start = 0, end = buf.length): boolean {
  return (u32At(buf, attrOffset(buf, IFLA_GROUP, start + IFINFOMSG_LEN, end)) ?? 0) === group
}

/** A link message's ifindex, read without decoding the rest. */
export function linkIndexOf(payload: Buffer, start = 0): number {
  return payload.readInt32LE(start + 4)
}

/** A link message's name, read without decoding the rest. */
export function linkNameOf(payload: Buffer): string {
  return stringAt(payload, attrOffset(payload, IFLA_IFNAME, IFINFOMSG_LEN)) ?? ''
}

/** A link message's IFLA_GROUP (0 when absent), read without decoding the rest. */
export function linkGroupOf(payload: Buffer): number {
  return readU32(findAttr(payload, IFLA_GROUP, IFINFOMSG_LEN)) ?? 0
}

/** LinkInfo from the payload (after nlmsghdr) of an RTM_NEWLINK message. */
export function decodeLink(payload: Buffer): LinkInfo {
  const ifi = decodeIfInfoMsg(payload)
  const a = new AttrIndex(payload, IFINFOMSG_LEN)
  const li = a.nested(IFLA_LINKINFO)
  const kind = li?.string(IFLA_INFO_KIND)
  const data = li?.nested(IFLA_INFO_DATA)
  const mac = a.get(IFLA_ADDRESS)
  const parent = a.s32(IFLA_LINK)
  const link: LinkInfo = {
    index: ifi.index,
    name: a.string(IFLA_IFNAME) ?? '',
    kind,
    mtu: a.u32(IFLA_MTU) ?? 0,
    mac: mac && mac.length === 6 ? bytesToMac(mac) : undefined,
    flags: ifi.flags,
    up: (ifi.flags & IFF_UP) !== 0,
    operState: OPER_STATES[a.u8(IFLA_OPERSTATE) ?? 0] ?? 'unknown',
    master: a.u32(IFLA_MASTER) || undefined,
    group: a.u32(IFLA_GROUP) ?? 0,
    alias: a.string(IFLA_IFALIAS),
    // IFLA_LINK equal to the link's own index means "no lower device" (how lo and tuns report it).
    parent: parent !== undefined && parent !== 0 && parent !== ifi.index ? parent : undefined,
    linkNetnsid: a.s32(IFLA_LINK_NETNSID),
    slaveKind: li?.string(IFLA_INFO_SLAVE_KIND),
  }
  if (kind === 'macvtap') link.tapDevice = `/dev/tap${ifi.index}`
  const genMode = a.nested(IFLA_AF_SPEC)?.nested(AF_INET6)?.u8(IFLA_INET6_ADDR_GEN_MODE)
  if (genMode !== undefined) link.addrGenMode = ADDR_GEN_MODES[genMode]
  if (kind === 'bridge' && data)
    link.bridge = {
      stp: (data.u32(IFLA_BR_STP_STATE) ?? 0) !== 0,
      forwardDelay: (data.u32(IFLA_BR_FORWARD_DELAY) ?? 0) / CLOCK_T_PER_SECOND,
      vlanFiltering: data.u8(IFLA_BR_VLAN_FILTERING) === 1,
    }
  if ((kind === 'macvlan' || kind === 'macvtap') && data) link.macvlan = { mode: macvlanMode(data.u32(IFLA_MACVLAN_MODE) ?? 0) }
  if (kind === 'vxlan' && data) link.vxlan = decodeVxlan(data)
  if (kind === 'tun' && data) link.tun = decodeTun(data)
  return link
}

