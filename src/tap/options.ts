import { SpecError } from '../errors.js'
import type { NativeTapOptions, TapMode } from '../native/index.js'

export interface TapOptions {
  /** Interface name, at most 15 bytes; may contain one `%d` for the kernel to number (e.g. 'vm%d'). */
  name: string
  /** 'tap' (Ethernet frames, the default) or 'tun' (IP packets). */
  mode?: TapMode
  /** Queues (1..256, default 1). Above 1 the device is multi-queue and gets one fd per queue. */
  queues?: number
  /** Frames carry a virtio-net header (what vhost-net and QEMU's virtio-net want). Default false. */
  vnetHdr?: boolean
  /** The device outlives its fds (until deleted). Default false: it vanishes with the last fd. */
  persist?: boolean
  /** The only uid (besides CAP_NET_ADMIN) allowed to attach to the device later. */
  owner?: number
  /** The only gid allowed to attach to the device later. */
  group?: number
}

/** The most queues a tun device takes (MAX_TAP_QUEUES in drivers/net/tun.c). */
export const MAX_TAP_QUEUES = 256
/** IFNAMSIZ minus the terminating NUL. */
const MAX_NAME_BYTES = 15
// The kernel's own rule (dev_valid_name) only bans '/', ':' and whitespace; kvmnet keeps to a set that is
// also safe in nft rules, dnsmasq options and file names. One %d is the kernel's numbering template.
const NAME_PATTERN = /^(?:[A-Za-z0-9_.-]|%d)+$/
const MAX_ID = 0xfffffffe // (uid_t)-1 means "no owner" to the kernel

/** Checks one TapOptions and fills in the defaults; `field` prefixes the SpecError field ('taps[2]'). */
export function normalizeTapOptions(opts: TapOptions, field = ''): NativeTapOptions {
  const at = (key: string): string => (field ? `${field}.${key}` : key)
  if (typeof opts !== 'object' || opts === null) throw new SpecError(field || 'opts', 'must be an object')

  const { name } = opts
  if (typeof name !== 'string' || name === '') throw new SpecError(at('name'), 'must be a non-empty string')
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new SpecError(at('name'), `must be at most ${MAX_NAME_BYTES} bytes, got ${Buffer.byteLength(name)}`)
  }
  if (!NAME_PATTERN.test(name)) {
    throw new SpecError(at('name'), "may only contain letters, digits, '_', '-', '.' and one '%d'")
  }
  if ((name.match(/%d/g) ?? []).length > 1) throw new SpecError(at('name'), "may contain '%d' only once")
  if (name === '.' || name === '..') throw new SpecError(at('name'), `must not be '${name}'`)

  const mode = opts.mode ?? 'tap'
  if (mode !== 'tap' && mode !== 'tun') throw new SpecError(at('mode'), "must be 'tap' or 'tun'")

  const queues = opts.queues ?? 1
  if (!Number.isInteger(queues) || queues < 1 || queues > MAX_TAP_QUEUES) {
    throw new SpecError(at('queues'), `must be an integer from 1 to ${MAX_TAP_QUEUES}`)
  }

  const vnetHdr = opts.vnetHdr ?? false
  if (typeof vnetHdr !== 'boolean') throw new SpecError(at('vnetHdr'), 'must be a boolean')
  const persist = opts.persist ?? false
  if (typeof persist !== 'boolean') throw new SpecError(at('persist'), 'must be a boolean')

  const out: NativeTapOptions = { name, mode, queues, vnetHdr, persist }
  if (opts.owner !== undefined) out.owner = checkId(opts.owner, at('owner'))
  if (opts.group !== undefined) out.group = checkId(opts.group, at('group'))
  return out
}

function checkId(id: unknown, field: string): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_ID) {
    throw new SpecError(field, `must be an integer from 0 to ${MAX_ID}`)
  }
  return id
}
