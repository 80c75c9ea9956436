/**
 * kvmnet/wire: the Buffer-level pieces under kvmnet's typed API — rtnetlink messages and the pipelined
 * socket, the nf_tables table probe's message, multicast subscriptions and the decoders of their notifications. Nothing here is needed to build networks; it is for tools
 * that speak netlink themselves.
 */
export * from './rtnl/wire.js'
export { encodeGetTable } from './nft/table-exists.js'
export { decodeNftNotification, type NftNotification } from './watch/nft-notification.js'
export { decodeRtnlNotification, type RtnlNotification } from './watch/rtnl-notification.js'
