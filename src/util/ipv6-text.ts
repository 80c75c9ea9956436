/**
 * IPv6 addresses from network-order bytes to text without parse objects: decoders of route, link, fdb
 * and nf_tables set dumps format one or more addresses per message, and ipaddr.js objects for each were a
 * good part of what a large dump allocated.
 */

/**
 * The 16 bytes at `at`, RFC 5952 compressed: lower-case hex without leading zeros, the longest run of two
 * or more zero groups (the first of equals) as '::'. That is what ipaddr.js and glibc's inet_ntop agree on,
 * except for IPv4-compatible and -mapped addresses, which inet_ntop (so nft) ends in dotted form:
 * `dottedTail` asks for that form, without it the tail stays hex, as ipaddr.js prints it.
 */
export function ipv6Text(b: Uint8Array, at = 0, dottedTail = false): string {
  const w = (i: number): number => (b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (w(i) !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && w(j) === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (bestLen < 2) best = -1
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += i === 0 ? '::' : ':'
      i += bestLen - 1
      continue
    }
    // inet_ntop's rule: ::a.b.c.d (compatible, but not ::1 or ::) and ::ffff:a.b.c.d (mapped).
    if (dottedTail && i === 6 && best === 0 && (bestLen === 6 || (bestLen === 7 && w(7) !== 1) || (bestLen === 5 && w(5) === 0xffff))) {
      return `${out}${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`
    }
    out += w(i).toString(16)
    if (i < 7) out += ':'
  }
  return out
}
