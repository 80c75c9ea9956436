/**
 * kvmnet/wire: the Buffer-level pieces under kvmnet's typed API — rtnetlink messages and the pipelined
 * socket, the nf_tables table probe's message, multicast subscriptions and the decoders of their
 * notifications. Nothing here is needed to build networks; it is for tools that speak netlink themselves.
 */
export { ALL_ZEROS_MAC, MAX_DUMP_ATTEMPTS, MAX_IN_FLIGHT, NetlinkSubscription, RtnlSocket, decodeAddress, decodeFdb, decodeLink, decodeRoute, dumpConsistently, encodeAddAddress, encodeAddFdb, encodeAddRoute, encodeCreateLink, encodeDeleteAddress, encodeDeleteFdb, encodeDeleteGroup, encodeDeleteLink, encodeDeleteRoute, encodeDumpAddresses, encodeDumpFdb, encodeDumpLinks, encodeDumpRoutes, encodeGetLink, encodeSetLink, parseHostCidr } from './rtnl/index.js'
export type { BatchItem, BatchResult, DumpAttempt, LinkTarget, NlReply, RequestMeta, ResolvedChange, ResolvedCreate, ResolvedFdb, RtnlSocketOptions, SubscriptionEvents } from './rtnl/index.js'
export { encodeGetTable } from './nft/index.js'
export { decodeNftNotification, decodeRtnlNotification, type NftNotification, type RtnlNotification } from './watch/index.js'
