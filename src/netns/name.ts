import { randomBytes } from 'node:crypto'
import { SpecError } from '../errors.js'

/** Where named namespaces live, as with `ip netns`. */
export const NETNS_DIR = '/run/netns'

/** The file of a named namespace. */
export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`
}

/**
 * A namespace name becomes a file name under /run/netns: it must not escape the directory or be one of
 * its special entries. (iproute2 accepts the same set.)
 */
export function validateNetnsName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string') throw new SpecError(field, 'must be a string')
  if (name === '') throw new SpecError(field, 'must not be empty')
  if (Buffer.byteLength(name) > 255) throw new SpecError(field, 'must be at most 255 bytes')
  if (name === '.' || name === '..') throw new SpecError(field, `must not be '${name}'`)
  if (name.includes('/')) throw new SpecError(field, "must not contain '/'")
  if (name.includes('\0')) throw new SpecError(field, 'must not contain NUL')
  return name
}

/** `${prefix}-` and 8 random hex digits: unique enough to retry on the rare clash. */
export function randomNetnsName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}
