export { nsCommand, nsLabel } from './exec.js'
export { NETNS_DIR, netnsPath, validateNetnsName } from './name.js'
export { Netns, type NetnsCreateOptions } from './netns.js'
export type { NetnsRef } from './ref.js'
