/**
 * An IPv4 CIDR as two numbers, for the overlap checks an apply runs against every route of its namespace:
 * through ipaddr.js each route cost a validating regex, an IPv4 object and its octet array — with a hundred
 * networks in one namespace, a hundred routes parsed twice per `up`, an eighth of everything the ups
 * allocated (garbage that drives V8's scavenges, whose survivors grow its young generation: issue 21, RSS).
 * Strict dotted-quad only (what the kernel's routes and kvmnet's validated specs hold); anything else
 * answers undefined and the caller takes the general path.
 */

/** `a.b.c.d/len` as its network address (the host bits kept, as written) and prefix length. */
export function ipv4Prefix(cidr: string): { addr: number; len: number } | undefined {
  const slash = cidr.indexOf('/')
  const len = slash < 0 ? -1 : decimal(cidr, slash + 1, cidr.length)
  if (len < 0 || len > 32) return undefined
  let addr = 0
  let start = 0
  for (let i = 0; i < 4; i++) {
    const end = i < 3 ? cidr.indexOf('.', start) : slash
    if (end < 0 || end > slash) return undefined
    const octet = decimal(cidr, start, end)
    if (octet < 0 || octet > 255) return undefined
    addr = addr * 256 + octet
    start = end + 1
  }
  return { addr, len }
}

/** Whether either prefix contains the other's network address (ipaddr's `match` both ways). */
export function ipv4PrefixesOverlap(a: { addr: number; len: number }, b: { addr: number; len: number }): boolean {
  const len = Math.min(a.len, b.len)
  return masked(a.addr, len) === masked(b.addr, len)
}

function masked(addr: number, len: number): number {
  return len === 0 ? 0 : (addr >>> (32 - len)) >>> 0
}

/** The decimal number in s[start, end): 1-3 digits, no sign, no leading zero; -1 otherwise. */
function decimal(s: string, start: number, end: number): number {
  if (end <= start || end - start > 3 || (end - start > 1 && s.charCodeAt(start) === 48)) return -1
  let n = 0
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    n = n * 10 + c
  }
  return n
}
