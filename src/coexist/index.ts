/** Coexistence with Docker, ufw and firewalld: what kvmnet adds to let a network through, and takes away on down. */
export { ensureCoexist, removeCoexist, sweepCoexist, blockerWarnings, type CoexistResult, type CoexistOptions } from './coexist.js'
export { detectFirewalls, detectFrom, legacyTableNames, listChains, ownerOf, type ListedChain } from './detect.js'
export { dockerRules, dockerFixCommands, dockerRulesPresent, DOCKER_USER } from './docker.js'
export { ufwRules, parseShowAdded, ufwArgs } from './ufw.js'
export { firewalldFixCommands, zoneOfInterface, KVMNET_ZONE } from './firewalld.js'
export { splitRuleLine, taggedRules } from './iptables.js'
export { coexistTag, type CoexistRecord, type CoexistTarget, type CoexistWarning, type Detected, type ForeignChain, type HostPort, type UfwRule } from './model.js'
