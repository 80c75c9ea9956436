/**
 * Address allocation from the network's DHCP range: the lowest address of the range that nothing else
 * holds — no reservation, no live dynamic lease of another client, no static DNS record, not the host.
 * Pure: kvmnet-cni calls it under the network's lock with the spec as recorded, so two ADDs never pick
 * the same address.
 */
import { ipaddr } from '../util/index.js'
import { dhcpHostsOf, dhcpRangeOf, dnsHostsOf, hostIpv4Of, type NetworkSpec } from '../network/index.js'

export function v4num(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0)
}

export function v4str(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** Addresses of the subnet that are spoken for by the spec itself. */
export function takenBySpec(spec: NetworkSpec): Set<string> {
  const taken = new Set<string>()
  const address = hostIpv4Of(spec)
  if (address) taken.add(address.split('/')[0] ?? '')
  for (const h of dhcpHostsOf(spec)) taken.add(h.ip)
  for (const h of dnsHostsOf(spec)) if (ipaddr.IPv4.isValidFourPartDecimal(h.ip)) taken.add(h.ip)
  return taken
}

/** The first free address of the range, or undefined when every one is taken. */
export function pickAddress(spec: NetworkSpec, alsoTaken: ReadonlySet<string>): string | undefined {
  const range = dhcpRangeOf(spec)
  if (!range) return undefined
  const taken = takenBySpec(spec)
  const [first, last] = [v4num(range[0]), v4num(range[1])]
  for (let n = first; n <= last; n++) {
    const ip = v4str(n)
    if (!taken.has(ip) && !alsoTaken.has(ip)) return ip
  }
  return undefined
}

/** How many addresses of the range are still free (STATUS reports an exhausted range). */
export function freeAddresses(spec: NetworkSpec, alsoTaken: ReadonlySet<string>): number {
  const range = dhcpRangeOf(spec)
  if (!range) return 0
  const taken = new Set([...takenBySpec(spec), ...alsoTaken])
  let free = 0
  for (let n = v4num(range[0]); n <= v4num(range[1]); n++) if (!taken.has(v4str(n))) free++
  return free
}
