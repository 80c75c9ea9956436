/**
 * IPv4 arithmetic for validating a dnsmasq spec. Addresses become unsigned 32-bit integers so that
 * "inside the subnet" and "start <= end" are plain comparisons; only strict dotted quads are accepted
 * because dnsmasq's own parser (inet_pton) accepts nothing else either.
 */
const QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

export interface Ipv4Subnet {
  /** Network address as an unsigned integer. */
  network: number
  prefix: number
  /** Broadcast address as an unsigned integer. */
  broadcast: number
}

/** The address as an unsigned 32-bit integer, or undefined when `s` is not a dotted quad. */
export function parseIpv4(s: unknown): number | undefined {
  if (typeof s !== 'string' || !QUAD.test(s)) return undefined
  return s.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0)
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
}

/** 'a.b.c.d/len' with 1 <= len <= 30 (a /31 or /32 has no room for a DHCP pool). Host bits must be zero. */
export function parseIpv4Subnet(s: unknown): Ipv4Subnet | { error: string } {
  if (typeof s !== 'string') return { error: 'must be a string like 192.168.100.0/24' }
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s)
  const addr = m ? parseIpv4(m[1]) : undefined
  if (!m || addr === undefined) return { error: 'must be an IPv4 CIDR like 192.168.100.0/24' }
  const prefix = Number(m[2])
  if (prefix < 1 || prefix > 30) return { error: 'prefix length must be between 1 and 30' }
  const size = 2 ** (32 - prefix)
  if (addr % size !== 0) return { error: `host bits are set; the network address is ${formatIpv4(addr - (addr % size))}/${prefix}` }
  return { network: addr, prefix, broadcast: addr + size - 1 }
}

/** True when `addr` is a usable host address of `subnet` (not its network or broadcast address). */
export function isHostOf(subnet: Ipv4Subnet, addr: number): boolean {
  return addr > subnet.network && addr < subnet.broadcast
}

export function netmask(prefix: number): string {
  return formatIpv4(2 ** 32 - 2 ** (32 - prefix))
}
