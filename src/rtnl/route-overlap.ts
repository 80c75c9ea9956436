/**
 * Which routes of a dump overlap given prefixes, judged in the datagram (struct rtmsg and its RTA_DST)
 * before a route object is made. A subnet check (is 10.0.5.0/24 routed elsewhere?) reads a namespace's
 * whole main table on every `up`: with a hundred networks that was a hundred routes decoded (objects,
 * address strings) twice per up for the one or two that can matter, a tenth of everything a hundred ups
 * allocated (issue 21, RSS: garbage that grew V8's young generation).
 */
import { SpecError } from '../errors.js'
import { ipaddr } from '../util/index.js'
import { align4 } from './wire/attrs.js'
import { AF_INET, AF_INET6, NLA_HDRLEN, NLA_TYPE_MASK, RTA_DST } from './wire/constants.js'
import { RTMSG_LEN } from './wire/rtmsg.js'

export interface BytePrefix {
  af: number
  bytes: Uint8Array
  len: number
}

/** The prefixes as bytes; a string that is not a CIDR prefix is a SpecError naming `field`. */
export function bytePrefixes(cidrs: readonly string[], field: string): BytePrefix[] {
  return cidrs.map((c) => {
    let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number]
    try {
      parsed = ipaddr.parseCIDR(c)
    } catch {
      throw new SpecError(field, `${c} is not an address prefix (address/length)`)
    }
    const [addr, len] = parsed
    return { af: addr.kind() === 'ipv4' ? AF_INET : AF_INET6, bytes: Uint8Array.from(addr.toByteArray()), len }
  })
}

/** Whether the route message at buf[start, end) (after its nlmsghdr) has a destination overlapping one of `prefixes`. */
export function routeOverlapsAny(buf: Buffer, start: number, end: number, prefixes: readonly BytePrefix[]): boolean {
  if (end - start < RTMSG_LEN) return true // malformed: let the decoder judge it
  const af = buf[start]!
  const dstLen = buf[start + 1]!
  let dst = -1
  let dstBytes = 0
  for (let off = start + RTMSG_LEN; off + NLA_HDRLEN <= end; ) {
    const len = buf[off]! | (buf[off + 1]! << 8)
    if (len < NLA_HDRLEN || off + len > end) break
    if (((buf[off + 2]! | (buf[off + 3]! << 8)) & NLA_TYPE_MASK) === RTA_DST) {
      dst = off + NLA_HDRLEN
      dstBytes = len - NLA_HDRLEN
      break
    }
    off += align4(len)
  }
  for (const p of prefixes) {
    if (p.af !== af) continue
    const bits = Math.min(p.len, dstLen)
    // A destination without RTA_DST (or shorter than its length says) is 0/0-like: compare what there is.
    if (samePrefix(p.bytes, buf, dst, dstBytes, bits)) return true
  }
  return false
}

function samePrefix(a: Uint8Array, buf: Buffer, at: number, have: number, bits: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const x = a[i] ?? 0
    const y = at >= 0 && i < have ? buf[at + i]! : 0
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((x & mask) !== (y & mask)) return false
  }
  return true
}
