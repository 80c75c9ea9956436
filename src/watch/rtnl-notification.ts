/**
 * What an rtnetlink notification (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_TC) says:
 * a link added, changed or deleted; an address added or deleted; a qdisc, class or filter deleted, or made
 * or changed and by whom. The payloads are those of the dump replies, so the same decoders read them.
 */
import { decodeAddress, type AddressInfo } from '../rtnl/index.js'
import { decodeLink } from '../rtnl/index.js'
import type { LinkInfo } from '../rtnl/index.js'
import { AF_BRIDGE, RTM_DELADDR, RTM_DELLINK, RTM_DELQDISC, RTM_DELTCLASS, RTM_DELTFILTER, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTCLASS, RTM_NEWTFILTER } from '../rtnl/index.js'

export const RTNLGRP_LINK = 1
export const RTNLGRP_IPV4_IFADDR = 5
export const RTNLGRP_IPV6_IFADDR = 9
export const RTNLGRP_TC = 4

type TcObject = 'qdisc' | 'class' | 'filter'

/** The traffic-control messages: what they announce of which object. */
const TC_MESSAGES: ReadonlyMap<number, ['new' | 'del', TcObject]> = new Map([
  [RTM_NEWQDISC, ['new', 'qdisc']],
  [RTM_DELQDISC, ['del', 'qdisc']],
  [RTM_NEWTCLASS, ['new', 'class']],
  [RTM_DELTCLASS, ['del', 'class']],
  [RTM_NEWTFILTER, ['new', 'filter']],
  [RTM_DELTFILTER, ['del', 'filter']],
])

export type RtnlNotification =
  | { kind: 'link'; op: 'new' | 'del'; link: LinkInfo }
  | { kind: 'address'; op: 'new' | 'del'; address: AddressInfo }
  /**
   * A replaced qdisc is announced as the old one's deletion too; a class or filter changed in place
   * (`tc class change`) only as the new one. `sender`: the port id of the socket whose request made the
   * change (0 for the kernel's own), which tells kvmnet's own requests from another program's.
   */
  | { kind: 'tc'; op: 'new' | 'del'; object: TcObject; index: number; sender: number }

/** struct tcmsg: family (1), padding (3), ifindex (4), handle, parent, info. */
const TCMSG_IFINDEX = 4

/**
 * Decodes one notification; undefined for message types other than links and addresses, and for the
 * bridge's own port messages (family AF_BRIDGE): a port leaving a bridge is announced as an AF_BRIDGE
 * RTM_DELLINK although the link itself stays — its ordinary RTM_NEWLINK (no master) says what happened.
 */
export function decodeRtnlNotification(type: number, payload: Buffer, sender = 0): RtnlNotification | undefined {
  if ((type === RTM_NEWLINK || type === RTM_DELLINK) && payload.length > 0 && payload.readUInt8(0) === AF_BRIDGE) return undefined
  if (type === RTM_NEWLINK || type === RTM_DELLINK) return { kind: 'link', op: type === RTM_NEWLINK ? 'new' : 'del', link: decodeLink(payload) }
  if (type === RTM_NEWADDR || type === RTM_DELADDR) {
    const address = decodeAddress(payload)
    return address ? { kind: 'address', op: type === RTM_NEWADDR ? 'new' : 'del', address } : undefined
  }
  const tc = TC_MESSAGES.get(type)
  if (tc && payload.length >= TCMSG_IFINDEX + 4) return { kind: 'tc', op: tc[0], object: tc[1], index: payload.readInt32LE(TCMSG_IFINDEX), sender }
  return undefined
}
