/**
 * Which addresses a spec accepts where the host or its guests get them: predicates the spec's schema
 * (spec.ts) refines its address strings with.
 */
import { ipaddr } from '../util/index.js'

/** An address with a prefix length of the family, a host's (IPv4 1-30, IPv6 1-126). */
export function isCidr(x: string, kind: 'ipv4' | 'ipv6'): boolean {
  // No IPv6 address lacks a colon and no IPv4 one has one (util/ipaddr.ts): the other family's is refused unparsed.
  if (x.includes(':') !== (kind === 'ipv6')) return false
  // ipaddr.js parses a zone id (fe80::1%eth0); an address on the bridge has none, and neither netlink nor dnsmasq takes one.
  if (x.includes('%')) return false
  try {
    const [addr, len] = ipaddr.parseCIDR(x)
    if (addr.kind() !== kind) return false
    return kind === 'ipv4' ? ipaddr.IPv4.isValidFourPartDecimal(x.split('/')[0] ?? '') && len >= 1 && len <= 30 : len >= 1 && len <= 126
  } catch {
    return false
  }
}

/** ipaddr.js ranges that cannot be a host's own address (TEST-NETs, 'reserved' to ipaddr.js, can). */
const NOT_UNICAST = ['loopback', 'multicast', 'unspecified', 'broadcast']

/** ::ffff:a.b.c.d: an IPv4 address no IPv6 packet carries (dnsmasq and nft take it as IPv6 and fail or never match). */
export function ipv4Mapped(x: string): boolean {
  return ipaddr.IPv6.isValid(x) && ipaddr.IPv6.parse(x).isIPv4MappedAddress()
}

/**
 * IPv4 blocks no host on a link may have an address in: "this network" (0/8), loopback (127/8), multicast
 * (224/4) and reserved (240/4, with the limited broadcast 255.255.255.255). A subnet reaching into any of
 * them would hand such addresses out (DHCP) or broadcast to them.
 */
const NOT_HOST_BLOCKS: readonly [number, number][] = [
  [0x00000000, 0x00ffffff],
  [0x7f000000, 0x7fffffff],
  [0xe0000000, 0xffffffff],
]

/** No address of the IPv4 subnet `cidr` is in NOT_HOST_BLOCKS. */
export function unicastSubnet(cidr: string): boolean {
  try {
    const first = ipaddr.IPv4.networkAddressFromCIDR(cidr).toByteArray().reduce((n, b) => n * 256 + b, 0)
    const last = ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toByteArray().reduce((n, b) => n * 256 + b, 0)
    return NOT_HOST_BLOCKS.every(([lo, hi]) => last < lo || first > hi)
  } catch {
    return false
  }
}

/** The address of `cidr` (either family) is one a host can have as its own. */
export function usableHostAddress(cidr: string): boolean {
  try {
    return !NOT_UNICAST.includes(ipaddr.parseCIDR(cidr)[0].range())
  } catch {
    return false
  }
}
