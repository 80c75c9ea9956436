/** IP addresses between strings (ipaddr.js parses) and network-order bytes. */
import { ipaddr } from '../../util/index.js'
import { AF_INET, AF_INET6 } from './constants.js'

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

/** Canonical text form: dotted quad, or RFC 5952 compressed IPv6. */
export function ipString(bytes: Buffer): string {
  return ipaddr.fromByteArray([...bytes]).toString()
}
