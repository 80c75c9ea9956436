/**
 * util: small pieces every folder shares — naming rules, the transaction (undo log and step timings),
 * ipaddr.js loaded on first use, running programs and knowing processes, one-at-a-time queues.
 */
export { DUID_PATTERN, IFNAME_PATTERN, IFNAME_RULE, MAC_PATTERN, NETWORK_NAME_PATTERN, NETWORK_NAME_RULE, isIfName, isMac, isNetworkName } from './naming.js'
export { Transaction, stepLabel } from './transaction.js'
export type { StepCategory, StepContext, StepEvent, StepId, StepName, StepOutcome, StepTiming, Undo } from './transaction.js'
export { default as ipaddr } from './ipaddr.js'
export { isIP } from './ip-family.js'
export { ipv6Text } from './ipv6-text.js'
export { ipv4Prefix, ipv4PrefixesOverlap } from './ipv4-prefix.js'
export { isoTime, monotonicMs } from './clock.js'
export { runProgram, type ProgramResult } from './run-program.js'
export { processStartTime } from './process-start-time.js'
export { childProcess } from './child-process.js'
export { SerialQueue, serialized, startEarly } from './serialized.js'
export { dirEntries, dirEntriesSync, isExecutable, readIfExists } from './fs.js'
export { requireBundle } from './compile-cache.js'
export { BoundedMemo } from './bounded-memo.js'
export { sha256, sha256Hex, sha256Implementation } from './sha256.js'
export { EXIT_PIPE_CLOSED, isTerminal, writeFd, writeStderr, writeStdout } from './std-fds.js'
