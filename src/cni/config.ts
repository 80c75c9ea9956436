/**
 * The plugin configuration kvmnet-cni reads from stdin:
 *
 *   { "cniVersion": "1.1.0", "name": "pods", "type": "kvmnet-cni",
 *     "network": { ...a kvmnet spec: mode nat|routed|open|isolated, ipv4.address, ipv4.dhcp... },
 *     "attachment": "veth" | "tap", "tap": { "owner": 107, "group": 107, "queues": 1 },
 *     "stateRoot": "/run/kvmnet",
 *     "runtimeConfig": { "portMappings": [...], "mac": "..." }, "prevResult": {...} }
 *
 * The kvmnet spec's `name` defaults to the CNI network's. Everything is checked before anything is
 * touched; errors name the field as written in the configuration (`network.ipv4.dhcp.range[1]`).
 */
import { SpecError } from '../errors.js'
import type { NetworkSpec } from '../network/index.js'
import { takesForwards, validateSpec } from '../network/index.js'
import { CniCode, CniError } from './errors.js'
import { isCniIfname, isContainerId, type CniCommand } from './env.js'
import { parsePrevResult } from './prev-result.js'
import type { CniResult } from './result.js'
import { isSupportedVersion, SUPPORTED_VERSIONS, type CniVersion } from './version.js'
import { isIP, isMac } from '../util/index.js'
import { stateRootShapeProblem } from '../state-root/index.js'

/** The kinds whose guests get addresses from kvmnet's own DHCP range on kvmnet's own bridge. */
export type CniNetworkSpec = Extract<NetworkSpec, { mode: 'nat' | 'routed' | 'open' | 'isolated' }>
const CNI_MODES: readonly string[] = ['nat', 'routed', 'open', 'isolated']

export interface PortMapping {
  hostPort: number
  containerPort: number
  protocol: 'tcp' | 'udp'
  /** Only connections to this host address (empty or absent: any). */
  hostIP?: string | undefined
}

export interface TapOptions {
  owner?: number | undefined
  group?: number | undefined
  queues?: number | undefined
}

export interface ValidAttachment {
  containerID: string
  ifname: string
}

export interface CniConfig {
  cniVersion: CniVersion
  name: string
  spec: CniNetworkSpec
  attachment: 'veth' | 'tap'
  tap: TapOptions
  stateRoot: string
  portMappings: PortMapping[]
  /** runtimeConfig.mac (the `mac` capability): the container interface's MAC instead of a derived one. */
  mac: string | undefined
  /** Checked against the result type (ADD, CHECK); DEL does not read it. */
  prevResult: CniResult | undefined
  /** GC: cni.dev/valid-attachments. */
  validAttachments: ValidAttachment[] | undefined
}

export const DEFAULT_STATE_ROOT = '/run/kvmnet'
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

function invalid(field: string, reason: string): CniError {
  return new CniError(CniCode.InvalidConfig, 'invalid network configuration', `${field}: ${reason}`)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(field, `must be a whole number ${min}-${max}`)
  return v
}

/** The configuration's cniVersion, for error results written before (or whatever) the rest is read. */
export function versionOf(data: unknown): string | undefined {
  const v = isObject(data) ? data.cniVersion : undefined
  return isSupportedVersion(v) ? v : undefined
}

export function decodeConfig(text: string): Record<string, unknown> {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new CniError(CniCode.DecodeFailure, 'failed to decode the network configuration', (err as Error).message)
  }
  if (!isObject(data)) throw new CniError(CniCode.DecodeFailure, 'failed to decode the network configuration', 'not a JSON object')
  return data
}

function portMappings(v: unknown, spec: CniNetworkSpec): PortMapping[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw invalid('runtimeConfig.portMappings', 'must be a list')
  const out = v.map((m: unknown, i): PortMapping => {
    const f = `runtimeConfig.portMappings[${i}]`
    if (!isObject(m)) throw invalid(f, 'must be an object')
    const proto = typeof m.protocol === 'string' && m.protocol !== '' ? m.protocol.toLowerCase() : 'tcp'
    if (proto !== 'tcp' && proto !== 'udp') throw invalid(`${f}.protocol`, `'${String(m.protocol)}' is not tcp or udp`)
    const hostIP = typeof m.hostIP === 'string' && m.hostIP !== '' && m.hostIP !== '0.0.0.0' ? m.hostIP : undefined
    if (m.hostIP !== undefined && typeof m.hostIP !== 'string') throw invalid(`${f}.hostIP`, 'must be a string')
    if (hostIP !== undefined && isIP(hostIP) !== 4) throw invalid(`${f}.hostIP`, `'${hostIP}' is not an IPv4 address`)
    return { hostPort: int(m.hostPort, `${f}.hostPort`, 1, 65535), containerPort: int(m.containerPort, `${f}.containerPort`, 1, 65535), protocol: proto, ...(hostIP ? { hostIP } : {}) }
  })
  if (out.length > 0 && !takesForwards(spec)) throw invalid('runtimeConfig.portMappings', `port mappings need a nat network (network.mode is ${spec.mode})`)
  return out
}

function networkSpec(v: unknown, cniName: string): CniNetworkSpec {
  if (!isObject(v)) throw invalid('network', 'a kvmnet network spec (an object) is required')
  const input = { ...v, name: v.name ?? cniName }
  let spec: NetworkSpec
  try {
    spec = validateSpec(input)
  } catch (err) {
    if (!(err instanceof SpecError)) throw err
    const defaulted = err.field === 'name' && v.name === undefined ? ' (defaulted from the CNI network name; set network.name)' : ''
    throw invalid(`network.${err.field}`, `${err.reason}${defaulted}`)
  }
  if (!CNI_MODES.includes(spec.mode)) throw invalid('network.mode', `kvmnet-cni attaches containers to networks with their own bridge and DHCP range (${CNI_MODES.join(', ')}), not ${spec.mode}`)
  const s = spec as CniNetworkSpec
  if (!s.ipv4?.address) throw invalid('network.ipv4.address', 'kvmnet-cni needs the host address of the subnet it assigns addresses from')
  if (!s.ipv4.dhcp) throw invalid('network.ipv4.dhcp', 'kvmnet-cni assigns addresses from the DHCP range: ipv4.dhcp.range (or ranges) is required')
  // Reservations only (neither range nor ranges) leave it nothing to allocate from.
  if (!s.ipv4.dhcp.range && !s.ipv4.dhcp.ranges?.length) throw invalid('network.ipv4.dhcp.range', 'kvmnet-cni assigns addresses from a DHCP range: ipv4.dhcp.range or ranges is required (a network of reservations only has none)')
  return s
}

function tapOptions(v: unknown): TapOptions {
  if (v === undefined) return {}
  if (!isObject(v)) throw invalid('tap', 'must be an object')
  return {
    ...(v.owner !== undefined ? { owner: int(v.owner, 'tap.owner', 0, 4294967294) } : {}),
    ...(v.group !== undefined ? { group: int(v.group, 'tap.group', 0, 4294967294) } : {}),
    ...(v.queues !== undefined ? { queues: int(v.queues, 'tap.queues', 1, 256) } : {}),
  }
}

function validAttachments(v: unknown): ValidAttachment[] {
  const f = 'cni.dev/valid-attachments'
  if (!Array.isArray(v)) throw invalid(f, 'GC needs the list of valid attachments')
  return v.map((a: unknown, i) => {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') throw invalid(`${f}[${i}]`, 'needs containerID and ifname')
    if (!isContainerId(a.containerID)) throw invalid(`${f}[${i}].containerID`, `'${a.containerID}' is not a container id`)
    if (!isCniIfname(a.ifname)) throw invalid(`${f}[${i}].ifname`, `'${a.ifname}' is not an interface name`)
    return { containerID: a.containerID, ifname: a.ifname }
  })
}

export function parseConfig(data: Record<string, unknown>, command: CniCommand, env: NodeJS.ProcessEnv = {}): CniConfig {
  const v = data.cniVersion
  if (!isSupportedVersion(v))
    throw new CniError(CniCode.IncompatibleVersion, 'incompatible CNI version', `kvmnet-cni supports cniVersion ${SUPPORTED_VERSIONS.join(', ')}; the configuration has ${JSON.stringify(v)}`)
  if (v === '1.0.0' && (command === 'STATUS' || command === 'GC'))
    throw new CniError(CniCode.IncompatibleVersion, 'incompatible CNI version', `${command} is a CNI 1.1.0 command; the configuration has cniVersion 1.0.0`)
  const name = data.name
  if (typeof name !== 'string' || !NAME.test(name)) throw invalid('name', 'the CNI network name (a letter or digit, then letters, digits, _ . -) is required')
  const spec = networkSpec(data.network, name)
  const attachment = data.attachment ?? 'veth'
  if (attachment !== 'veth' && attachment !== 'tap') throw invalid('attachment', `'${String(attachment)}' is neither veth nor tap`)
  const rootIn = data.stateRoot ?? env.KVMNET_STATE_ROOT ?? DEFAULT_STATE_ROOT
  if (typeof rootIn !== 'string' || !rootIn.startsWith('/')) throw invalid('stateRoot', 'must be an absolute path')
  // Refused here, before the commands read other networks' states under it (a NUL made Node's fs throw a TypeError, code 100).
  const shape = stateRootShapeProblem(rootIn)
  if (shape) throw invalid('stateRoot', shape)
  const rc = data.runtimeConfig
  if (rc !== undefined && !isObject(rc)) throw invalid('runtimeConfig', 'must be an object')
  const mac = rc?.mac
  if (mac !== undefined && (!isMac(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1))
    throw invalid('runtimeConfig.mac', `${JSON.stringify(mac)} is not a unicast MAC address`)
  return {
    cniVersion: v,
    name,
    spec,
    attachment,
    tap: tapOptions(data.tap),
    stateRoot: rootIn,
    portMappings: portMappings(rc?.portMappings, spec),
    mac: typeof mac === 'string' ? mac.toLowerCase() : undefined,
    prevResult: command === 'DEL' ? undefined : parsePrevResult(data.prevResult),
    validAttachments: command === 'GC' ? validAttachments(data['cni.dev/valid-attachments']) : undefined,
  }
}
