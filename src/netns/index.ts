export { Netns } from './netns.js'
export type { NetnsRef } from './ref.js'
export { nsCommand, nsLabel } from './exec.js'
