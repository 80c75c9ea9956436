/**
 * The kinds of network: one driver per kind (a module here and a variant in spec.ts), bound to a spec by
 * kindOf; the parts of specs and plans that only some kinds have, read and replaced by kind.
 */
export { kindOf, planFor, type BoundKind, type L2Family, type PlannedNetwork } from './planned.js'
export * from './spec-parts.js'
export * from './plan-parts.js'
export { capturedService, forwardsOverlap, hostAddressesOf } from './checks.js'
export { LEARN_TIMEOUT_S, learningOf } from './learning.js'
export { shapedTaps } from './bandwidth.js'
