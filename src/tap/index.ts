export { closeTaps } from './close.js'
export { createTap, createTaps } from './create.js'
export type { TapHandle } from './handle.js'
export { MAX_TAP_QUEUES, normalizeTapOptions, type TapOptions } from './options.js'
