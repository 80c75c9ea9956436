/**
 * kvmnet: virtual networks for KVM/QEMU guests built directly on the Linux kernel.
 * Public API — re-exports only.
 */
export * from './errors.js'
export * from './netns/index.js'
export * from './rtnl/index.js'
export * from './tap/index.js'
export * from './nft/index.js'
export * from './dnsmasq/index.js'
export * from './network/index.js'
export * from './doctor/index.js'
export type { CoexistRecord, CoexistWarning } from './coexist/index.js'
