/**
 * Names and numbers derived from a network's name, so they are the same in every process: the bridge's
 * default name, a port's default MAC, the link group and alias tags that let `down` and `gc` find what a
 * crashed process created.
 */
import { createHash } from 'node:crypto'

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** kvbr-<name>, cut to the kernel's 15-byte limit with a short hash when the name is long. */
export function defaultBridgeName(network: string): string {
  const plain = `kvbr-${network}`
  if (plain.length <= 15) return plain
  return `kvbr-${network.slice(0, 5)}${digest(network).toString('hex').slice(0, 5)}`
}

/** 52:54:00 (QEMU's prefix) + 3 bytes from the network and port name: stable across re-applies. */
export function defaultMac(network: string, port: string): string {
  const d = digest(`${network}/${port}`)
  return ['52', '54', '00', ...[d[0]!, d[1]!, d[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':')
}

/**
 * A link group (u32) for the network: every link kvmnet creates for it joins this group so teardown is one
 * RTM_DELLINK for all of them. The high byte 0x4b ('K') keeps it away from the small numbers admins use.
 */
export function defaultLinkGroup(network: string): number {
  return 0x4b000000 | (digest(network).readUInt32BE(0) & 0x00ffffff)
}

/** The alias prefix on every kvmnet link: `kvmnet:<network>:<role>`. */
export const ALIAS_PREFIX = 'kvmnet:'

export function linkAlias(network: string, role: 'bridge' | 'port' | 'host' | 'nic'): string {
  return `${ALIAS_PREFIX}${network}:${role}`
}

/** Parse an alias written by `linkAlias`. */
export function parseAlias(alias: string | undefined): { network: string; role: string } | undefined {
  if (!alias?.startsWith(ALIAS_PREFIX)) return undefined
  const rest = alias.slice(ALIAS_PREFIX.length)
  const i = rest.lastIndexOf(':')
  if (i <= 0) return undefined
  return { network: rest.slice(0, i), role: rest.slice(i + 1) }
}
