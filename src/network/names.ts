/**
 * Names and numbers derived from a network's name, so they are the same in every process: the bridge's
 * default name, a port's default MAC, the link group and alias tags that let `down` and `gc` find what a
 * crashed process created.
 */
import { readFileSync } from 'node:fs'
import { sha256 as digest } from '../util/index.js'

/** kvbr-<name>, cut to the kernel's 15-byte limit with a short hash when the name is long. */
export function defaultBridgeName(network: string): string {
  const plain = `kvbr-${network}`
  if (plain.length <= 15) return plain
  return `kvbr-${network.slice(0, 5)}${digest(network).toString('hex').slice(0, 5)}`
}

/** The IFB a port's outbound traffic is shaped on: kvq + 10 hex digits of the network and port names. */
/** The IFB every tap's ingress is redirected to when the network's outbound traffic is capped. */
export function networkIfbName(network: string): string {
  return `kvq${digest(`${network}/ifb`).toString('hex').slice(0, 10)}`
}

export function ifbName(network: string, port: string): string {
  return `kvq${digest(`${network}/${port}/ifb`).toString('hex').slice(0, 10)}`
}

let machineIdCache: string | undefined

/**
 * This host's identity for default MACs: /etc/machine-id (systemd's, stable for the installation), so two
 * hypervisors that give a network and port the same names still give their guests different MACs on a
 * shared LAN (bridge and macvtap networks). Without one, the host name stands in.
 */
export function machineId(): string {
  if (machineIdCache === undefined) {
    try {
      machineIdCache = readFileSync('/etc/machine-id', 'utf8').trim()
    } catch {
      machineIdCache = ''
    }
    if (!machineIdCache) machineIdCache = `host:${process.env.HOSTNAME ?? ''}`
  }
  return machineIdCache
}

/** Two hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Bytes as colon-separated hex (a MAC). */
function hex(bytes: readonly number[]): string {
  let out = HEX[bytes[0]!]!
  for (let i = 1; i < bytes.length; i++) out += `:${HEX[bytes[i]!]!}`
  return out
}

/**
 * A guest's default MAC: 52:54:00 (QEMU's prefix) + 3 bytes from the host, network and port names, so it
 * is stable across re-applies and processes on one host and differs between hosts.
 */
export function defaultMac(network: string, port: string, host: string = machineId()): string {
  const d = digest(`${host}/${network}/${port}`)
  return hex([0x52, 0x54, 0x00, d[0]!, d[1]!, d[2]!])
}

/**
 * The MAC of a tap's host side, given the guest's: fe + the guest's last five bytes (libvirt's rule).
 * The guest's own MAC must never be the tap's: the bridge would learn it as a local address and drop the
 * guest's frames ("received packet with own address as source address"), and guests could not reach
 * each other. 0xfe is locally administered and unicast, and is high enough that the bridge, which takes
 * the numerically lowest port MAC unless given one, keeps its own fixed MAC anyway.
 */
export function tapHostMac(guestMac: string): string {
  return `fe:${guestMac.toLowerCase().slice(3)}`
}

/** A bridge's fixed MAC (so it does not change as ports come and go): locally administered, per host and network. */
export function bridgeMac(network: string, host: string = machineId()): string {
  const d = digest(`${host}/${network}/bridge`)
  return hex([0x02, d[0]!, d[1]!, d[2]!, d[3]!, d[4]!])
}

/**
 * A link group (u32) for the network: every link kvmnet creates for it joins this group so teardown is one
 * RTM_DELLINK for all of them. The high byte 0x4b ('K') keeps it away from the small numbers admins use.
 */
export function defaultLinkGroup(network: string): number {
  return 0x4b000000 | (digest(network).readUInt32BE(0) & 0x00ffffff)
}

/** The alias prefix on every kvmnet link: `kvmnet:<network>:<role>@<root tag>`. */
export const ALIAS_PREFIX = 'kvmnet:'

/**
 * The state root a network belongs to, as 8 hex digits in its links' aliases: two processes using
 * different state roots are different owners, and `gc` of one root never touches another root's links.
 */
export function rootTag(stateRoot: string): string {
  return digest(`root:${stateRoot}`).toString('hex').slice(0, 8)
}

/** A container's attachment (kvmnet-cni) is `cni/<container id>/<ifname>`: see attachmentRole. */
export type LinkRole = 'bridge' | 'port' | 'host' | 'nic' | 'vxlan' | 'ifb' | `cni/${string}`

export function linkAlias(network: string, role: LinkRole, root: string = rootTag('/run/kvmnet')): string {
  return `${ALIAS_PREFIX}${network}:${role}@${root}`
}

/** Parse an alias written by `linkAlias` (also the older form without a root tag). */
export function parseAlias(alias: string | undefined): { network: string; role: string; root: string | undefined } | undefined {
  if (!alias?.startsWith(ALIAS_PREFIX)) return undefined
  const at = alias.lastIndexOf('@')
  const rest = alias.slice(ALIAS_PREFIX.length, at > 0 ? at : undefined)
  const root = at > 0 ? alias.slice(at + 1) : undefined
  const i = rest.lastIndexOf(':')
  if (i <= 0) return undefined
  return { network: rest.slice(0, i), role: rest.slice(i + 1), root }
}

/**
 * The role in the alias of a link a container runtime attached through kvmnet-cni (the host end of a
 * container's veth): `cni/<container id>/<ifname>`. CNI container ids and interface names contain no
 * ':', '/' or '@', so the alias parses back unambiguously.
 */
export function attachmentRole(containerId: string, ifname: string): `cni/${string}` {
  return `cni/${containerId}/${ifname}`
}

/**
 * Whether `alias` tags an attachment (see attachmentRole) of the network and state root that
 * `networkAlias` (any of the network's own link aliases) belongs to: such links are the network's too,
 * so its teardown removes them with the rest.
 */
export function isAttachmentOf(alias: string | undefined, networkAlias: string): boolean {
  const a = parseAlias(alias)
  const n = parseAlias(networkAlias)
  return a !== undefined && n !== undefined && a.network === n.network && a.root === n.root && a.role.startsWith('cni/')
}
