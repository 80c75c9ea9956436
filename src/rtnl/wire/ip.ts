/** IP addresses between strings (ipaddr.js parses) and network-order bytes. */
import { ipaddr, ipv6Text } from '../../util/index.js'
import { AF_INET, AF_INET6 } from './constants.js'
import { protocolError } from './header.js'

export type Family = 4 | 6

export function familyOf(addr: ipaddr.IPv4 | ipaddr.IPv6): Family {
  return addr.kind() === 'ipv4' ? 4 : 6
}

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6
}

export function familyFromAf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined
}

export function ipBytes(addr: ipaddr.IPv4 | ipaddr.IPv6): Buffer {
  return Buffer.from(addr.toByteArray())
}

/**
 * Canonical text form: dotted quad, or RFC 5952 compressed IPv6 (lower-case hex, no leading zeros, the
 * longest run of two or more zero groups — the first of equals — as '::'), what ipaddr.js prints. Written
 * out rather than through ipaddr.js: a route dump formats every route's addresses, and the parse objects
 * ipaddr.js makes for each were a good part of what listing a namespace's routes allocated.
 */
export function ipString(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  // ipaddr.fromByteArray took the other lengths, only to throw an untyped Error for each.
  if (bytes.length !== 16) throw protocolError(`an address of ${bytes.length} bytes is neither IPv4 (4) nor IPv6 (16)`)
  return ipv6Text(bytes)
}
