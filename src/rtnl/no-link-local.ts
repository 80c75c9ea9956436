import { existsSync } from 'node:fs'

/**
 * A bridge port is the guest's (or container's) cable, not an interface of the host's: the kernel would
 * give it an IPv6 link-local address of the host's once the far end brings carrier (then DAD, router
 * solicitations and MLD sent to the guest, and the host reachable at fe80::…%port — from a very-isolated
 * network too, whose bridge has no address). The change (or spec) fields that ask for none: left out where
 * the kernel has no IPv6 (the request would be refused) or the MTU is under IPv6's 1280 (the link then has
 * no IPv6 at all).
 */
export function noLinkLocal(mtu: number | undefined): { addrGenMode?: 'none' } {
  hasIpv6 ??= existsSync('/proc/sys/net/ipv6')
  return hasIpv6 && (mtu === undefined || mtu >= 1280) ? { addrGenMode: 'none' } : {}
}
let hasIpv6: boolean | undefined
