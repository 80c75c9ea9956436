/**
 * What an rtnetlink notification (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_TC) says:
 * a link added, changed or deleted; an address added or deleted; a qdisc, class or filter deleted. The
 * payloads are those of the dump replies, so the same decoders read them.
 */
import { decodeAddress, type AddressInfo } from '../rtnl/index.js'
import { decodeLink } from '../rtnl/index.js'
import type { LinkInfo } from '../rtnl/index.js'
import { AF_BRIDGE, RTM_DELADDR, RTM_DELLINK, RTM_DELQDISC, RTM_DELTCLASS, RTM_DELTFILTER, RTM_NEWADDR, RTM_NEWLINK } from '../rtnl/index.js'

export const RTNLGRP_LINK = 1
export const RTNLGRP_IPV4_IFADDR = 5
export const RTNLGRP_IPV6_IFADDR = 9
export const RTNLGRP_TC = 4

/** The traffic-control objects whose deletion a notification announces. */
const TC_DELETED: ReadonlyMap<number, 'qdisc' | 'class' | 'filter'> = new Map([
  [RTM_DELQDISC, 'qdisc'],
  [RTM_DELTCLASS, 'class'],
  [RTM_DELTFILTER, 'filter'],
])

export type RtnlNotification =
  | { kind: 'link'; op: 'new' | 'del'; link: LinkInfo }
  | { kind: 'address'; op: 'new' | 'del'; address: AddressInfo }
  /** Only deletions are decoded: a replaced qdisc is announced as the old one's deletion too. */
  | { kind: 'tc'; op: 'del'; object: 'qdisc' | 'class' | 'filter'; index: number }

/** struct tcmsg: family (1), padding (3), ifindex (4), handle, parent, info. */
const TCMSG_IFINDEX = 4

/**
 * Decodes one notification; undefined for message types other than links and addresses, and for the
 * bridge's own port messages (family AF_BRIDGE): a port leaving a bridge is announced as an AF_BRIDGE
 * RTM_DELLINK although the link itself stays — its ordinary RTM_NEWLINK (no master) says what happened.
 */
export function decodeRtnlNotification(type: number, payload: Buffer): RtnlNotification | undefined {
  if ((type === RTM_NEWLINK || type === RTM_DELLINK) && payload.length > 0 && payload.readUInt8(0) === AF_BRIDGE) return undefined
  if (type === RTM_NEWLINK || type === RTM_DELLINK) return { kind: 'link', op: type === RTM_NEWLINK ? 'new' : 'del', link: decodeLink(payload) }
  if (type === RTM_NEWADDR || type === RTM_DELADDR) {
    const address = decodeAddress(payload)
    return address ? { kind: 'address', op: type === RTM_NEWADDR ? 'new' : 'del', address } : undefined
  }
  const object = TC_DELETED.get(type)
  if (object && payload.length >= TCMSG_IFINDEX + 4) return { kind: 'tc', op: 'del', object, index: payload.readInt32LE(TCMSG_IFINDEX) }
  return undefined
}
