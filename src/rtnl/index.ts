/** The typed rtnetlink API: operations and their types. Messages and sockets are in wire.ts (`kvmnet/wire`). */
export { Rtnl } from './rtnl.js'
export type {
  AddrGenMode,
  BridgeData,
  BridgeSpec,
  LinkChange,
  LinkCommon,
  LinkFilter,
  LinkInfo,
  LinkKind,
  LinkRef,
  LinkSpec,
  MacvlanData,
  MacvlanMode,
  MacvlanSpec,
  TapSpec,
  TunData,
  VethSpec,
  VxlanData,
  VxlanSpec,
} from './link-types.js'
export { LINK_KINDS } from './link-types.js'
export type { AddLinkOptions } from './links.js'
export { validateLinkSpec, validateLinkChange, badLinkName } from './link-validate.js'
export type { AddressInfo, AddressOptions } from './address-message.js'
export type { RouteInfo, RouteScope, RouteSpec } from './route-message.js'
export { RTPROT_RA, type RouteFilter } from './routes.js'
export type { FdbFilter, FdbSpec } from './fdb.js'
export type { FdbEntry } from './fdb-message.js'
export {
  readSysctl,
  writeSysctl,
  openSysctls,
  writeSysctls,
  type SysctlReader,
  sysctlKeys,
  sysctlPath,
  isSysctlKey,
  setIpForward,
  setRouteLocalnet,
  setProxyArp,
  setAcceptRa,
  readBridgeNfCallIptables,
  setBridgeNfCallIptables,
} from './sysctl.js'
export { tapDevicePath } from './macvtap-index.js'
export { noLinkLocal } from './no-link-local.js'
export { isOwnNetlinkPort } from './open-raw-socket.js'
export { parseRouteSpec } from './route-validate.js'
export type { OperState, RouteType } from './wire/constants.js'
export { IFF_LOOPBACK } from './wire/constants.js'
export type { Family } from './wire/ip.js'
export { AttrIndex, attrMap, attrOffset, attrString, parseAttrs, readString } from './wire/attrs.js'
export { AF_BRIDGE, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, RTM_DELADDR, RTM_DELLINK, RTM_DELQDISC, RTM_DELTCLASS, RTM_DELTFILTER, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTCLASS, RTM_NEWTFILTER } from './wire/constants.js'
export { encodeMessage } from './wire/header.js'
// The message level (published as kvmnet/wire): siblings that speak netlink themselves use it from here.
export * from './wire.js'
export type { ClassInfo, FilterInfo, HtbClassSpec, QdiscInfo, QdiscSpec, U32FilterSpec, U32Match } from './tc-types.js'
export type { IfbSpec } from './link-types.js'
export { formatHandle } from './wire/tcmsg.js'
export { TC_H_INGRESS_HANDLE } from './wire/constants.js'
