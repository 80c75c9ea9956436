/**
 * The message level of rtnetlink, for tools that build their own requests: the pipelined socket and the
 * pure encoders/decoders. Published as `kvmnet/wire`, apart from the typed operations of the root export.
 */
export { RtnlSocket, MAX_IN_FLIGHT, type BatchItem, type BatchResult, type NlReply, type RequestMeta } from './socket.js'
export type { RtnlSocketOptions } from './off-loop-sends.js'
export {
  encodeCreateLink,
  encodeSetLink,
  encodeDeleteLink,
  encodeDeleteGroup,
  encodeGetLink,
  encodeDumpLinks,
  decodeLink,
  type LinkTarget,
  type ResolvedChange,
  type ResolvedCreate,
} from './link-message.js'
export { encodeAddAddress, encodeDeleteAddress, encodeDumpAddresses, decodeAddress, parseHostCidr } from './address-message.js'
export { encodeAddRoute, encodeDeleteRoute, encodeDumpRoutes, decodeRoute } from './route-message.js'
export { NetlinkSubscription, type SubscriptionEvents } from './subscription.js'
export { encodeAddFdb, encodeDeleteFdb, encodeDumpFdb, decodeFdb, ALL_ZEROS_MAC, type ResolvedFdb } from './fdb-message.js'
export { dumpConsistently, MAX_DUMP_ATTEMPTS, type DumpAttempt } from './dump-retry.js'
export {
  encodeReplaceQdisc,
  encodeDeleteQdisc,
  encodeReplaceHtbClass,
  encodeDeleteClass,
  encodeAddU32Filter,
  encodeDeleteFilters,
  encodeDumpQdiscs,
  encodeDumpClasses,
  encodeDumpFilters,
  decodeQdisc,
  decodeClass,
  decodeFilter,
} from './tc-message.js'
