/**
 * RTM_*NEIGH requests for a device's own forwarding database (AF_BRIDGE, NTF_SELF) — a VXLAN device's
 * remote VTEPs — and FdbEntry from RTM_NEWNEIGH dump replies. Pure: the device's ifindex is resolved by
 * the caller. The bytes are those `bridge fdb append|del ... dev VX dst IP` sends (iproute2 6.1):
 * ndm_state NUD_NOARP|NUD_PERMANENT, ndm_flags NTF_SELF, NDA_LLADDR then NDA_DST.
 */
import { ipaddr } from '../util/index.js'
import { attr, attrMap, readU32, readU16be } from './wire/attrs.js'
import {
  AF_BRIDGE,
  NDA_DST,
  NDA_IFINDEX,
  NDA_LLADDR,
  NDA_MASTER,
  NDA_PORT,
  NDA_VNI,
  NLM_F_ACK,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NTF_SELF,
  NUD_NOARP,
  NUD_PERMANENT,
  RTM_DELNEIGH,
  RTM_GETNEIGH,
  RTM_NEWNEIGH,
} from './wire/constants.js'
import { encodeMessage } from './wire/header.js'
import { ipBytes, ipString } from './wire/ip.js'
import { bytesToMac, macToBytes } from './wire/mac.js'
import { decodeNdMsg, encodeNdMsg, NDMSG_LEN } from './wire/ndmsg.js'

/** The MAC of the entry every frame without a more specific one is sent to (flooding, head-end replication). */
export const ALL_ZEROS_MAC = '00:00:00:00:00:00'

/** An FDB entry to add or delete, with its device already an ifindex. */
export interface ResolvedFdb {
  index: number
  mac: string
  dst: ipaddr.IPv4 | ipaddr.IPv6
}

export interface FdbEntry {
  /** The device the entry is on (the vxlan for its own entries, the bridge port for the bridge's). */
  index: number
  mac: string
  /** The remote VTEP (vxlan entries). */
  dst?: string | undefined
  /** NUD_* bits. */
  state: number
  permanent: boolean
  /** NTF_SELF: the device's own table (a vxlan's), not its master bridge's. */
  self: boolean
  /** NDA_MASTER: the bridge whose table the entry is in (entries of the bridge for this port). */
  bridge?: number | undefined
  /** UDP port and VNI when the entry overrides the device's. */
  port?: number | undefined
  vni?: number | undefined
  /** NDA_IFINDEX: the underlay device the entry is bound to. */
  via?: number | undefined
}

function body(r: ResolvedFdb): Buffer[] {
  return [
    encodeNdMsg({ family: AF_BRIDGE, index: r.index, state: NUD_NOARP | NUD_PERMANENT, flags: NTF_SELF }),
    attr(NDA_LLADDR, macToBytes(r.mac)),
    attr(NDA_DST, ipBytes(r.dst)),
  ]
}

/**
 * RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_APPEND: one more destination for the MAC. Without APPEND the
 * kernel replaces the entry's destination, and the all-zero MAC could only ever lead to one VTEP.
 */
export function encodeAddFdb(r: ResolvedFdb): Buffer {
  return encodeMessage(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, body(r))
}

/** RTM_DELNEIGH of one destination of a MAC (the others stay). ENOENT (isNotFound) when absent. */
export function encodeDeleteFdb(r: ResolvedFdb): Buffer {
  return encodeMessage(RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, body(r))
}

/**
 * An AF_BRIDGE neighbour dump, filtered in the kernel (strict checking) to one device: its own entries
 * (NTF_SELF) and, when it is a bridge port, the bridge's entries for it (NTF_MASTER).
 */
export function encodeDumpFdb(filter: { index?: number } = {}): Buffer {
  return encodeMessage(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, [encodeNdMsg({ family: AF_BRIDGE, index: filter.index ?? 0 })])
}

/** An FDB entry from the payload (after nlmsghdr) of an RTM_NEWNEIGH; undefined when not AF_BRIDGE. */
export function decodeFdb(payload: Buffer): FdbEntry | undefined {
  const nd = decodeNdMsg(payload)
  if (nd.family !== AF_BRIDGE) return undefined
  const a = attrMap(payload, NDMSG_LEN)
  const mac = a.get(NDA_LLADDR)
  const dst = a.get(NDA_DST)
  return {
    index: nd.index,
    mac: mac && mac.length === 6 ? bytesToMac(mac) : '',
    dst: dst && (dst.length === 4 || dst.length === 16) ? ipString(dst) : undefined,
    state: nd.state,
    permanent: (nd.state & NUD_PERMANENT) !== 0,
    self: (nd.flags & NTF_SELF) !== 0,
    bridge: readU32(a.get(NDA_MASTER)),
    port: readU16be(a.get(NDA_PORT)),
    vni: readU32(a.get(NDA_VNI)),
    via: readU32(a.get(NDA_IFINDEX)),
  }
}
