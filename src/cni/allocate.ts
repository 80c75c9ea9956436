/**
 * Address allocation from the network's DHCP ranges: the lowest address of the first range that nothing else
 * holds — no reservation, no live dynamic lease of another client, no static DNS record, not the host.
 * Pure: kvmnet-cni calls it under the network's lock with the spec as recorded, so two ADDs never pick
 * the same address.
 */
import { ipaddr } from '../util/index.js'
import { dhcpHostsOf, dhcpRangesOf, dnsHostsOf, hostIpv4Of, type NetworkSpec } from '../network/index.js'

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

/** Every address of the network's dynamic ranges, in order (each range first to last). */
function* rangeAddresses(spec: NetworkSpec): Generator<string> {
  for (const [first, last] of dhcpRangesOf(spec)) for (let n = v4num(first); n <= v4num(last); n++) yield v4str(n)
}

/** The first free address of the ranges, or undefined when every one is taken. */
export function pickAddress(spec: NetworkSpec, alsoTaken: ReadonlySet<string>): string | undefined {
  const taken = takenBySpec(spec)
  for (const ip of rangeAddresses(spec)) if (!taken.has(ip) && !alsoTaken.has(ip)) return ip
  return undefined
}

/** How many addresses of the ranges are still free (STATUS reports exhausted ranges). */
export function freeAddresses(spec: NetworkSpec, alsoTaken: ReadonlySet<string>): number {
  const taken = new Set([...takenBySpec(spec), ...alsoTaken])
  let free = 0
  for (const ip of new Set(rangeAddresses(spec))) if (!taken.has(ip)) free++
  return free
}
