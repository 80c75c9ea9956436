/**
 * The dnsmasq part of a bridged network's plan: DHCP for each IPv4 subnet that asks for it, DNS unless
 * disabled, router advertisements (and DHCPv6) for each IPv6 prefix. An IPv6-only network runs dnsmasq
 * for its advertisements alone.
 */
import type { Dhcp4Spec, Dhcp6Spec, DnsSpec } from './spec.js'
import { hostOf, networkOf, type DnsmasqPlan } from './plan.js'

type Dhcp4Plan = NonNullable<DnsmasqPlan['dhcp']>
type Dhcp6Plan = NonNullable<NonNullable<DnsmasqPlan['ipv6']>['dhcp']>

/** The spec's ranges as dnsmasq takes them: range, ranges, or neither (reservations only). */
function rangesOf(d: Dhcp4Spec | Dhcp6Spec): Pick<Dhcp4Plan, 'range' | 'ranges' | 'leaseTime'> {
  return {
    ...(d.range ? { range: [d.range[0], d.range[1]] as [string, string] } : {}),
    ...(d.ranges ? { ranges: d.ranges.map((r) => ({ ...r })) } : {}),
    ...(d.leaseTime !== undefined ? { leaseTime: d.leaseTime } : {}),
  }
}

function dhcp6Of(d: Dhcp6Spec | undefined): Dhcp6Plan | undefined {
  return d ? { ...rangesOf(d), hosts: (d.hosts ?? []).map((h) => ({ ...h })) } : undefined
}

/**
 * dnsmasq for a bridged network: DHCP when asked for, DNS unless disabled. Nothing runs when it would
 * serve nothing (IPv4, no DHCP and DNS off): a dnsmasq with nothing to do costs a process and ~70 ms of
 * every apply.
 */
export function planDnsmasq(
  name: string,
  part: { bridge: string; subnet?: string | undefined; subnet6?: string | undefined },
  ipv4: { address?: string | undefined; dhcp?: Dhcp4Spec | undefined; extra?: readonly { address: string; dhcp?: Dhcp4Spec | undefined }[] | undefined } | undefined,
  dns: DnsSpec | undefined,
  opts: {
    router: boolean
    mtu: number | undefined
    ipv6?: { address: string; dhcp?: Dhcp6Spec | undefined; extra?: readonly { address: string; dhcp?: Dhcp6Spec | undefined }[] | undefined } | undefined
  },
): DnsmasqPlan | undefined {
  const address = part.subnet ? ipv4?.address : undefined
  const v6 = part.subnet6 ? opts.ipv6 : undefined
  if (!address && !v6) return undefined
  const dhcp = address ? ipv4?.dhcp : undefined
  const extra = address ? (ipv4?.extra ?? []) : []
  const anyDhcp = dhcp !== undefined || extra.some((e) => e.dhcp) || v6?.dhcp !== undefined || (v6?.extra ?? []).some((e) => e.dhcp)
  // DNS comes with DHCP unless turned off, and alone when a dns section asks for it; an IPv6-only
  // network (whose dnsmasq runs for its advertisements anyway) serves it unless turned off.
  const dnsOn = (dns?.enabled ?? true) && (anyDhcp || dns !== undefined || !address)
  if (address && !anyDhcp && !dnsOn) return undefined
  const host = address ? hostOf(address) : undefined
  return {
    network: name,
    interface: part.bridge,
    ...(address && host ? { subnet: networkOf(address), hostAddress: host } : {}),
    ...(dhcp && host
      ? {
          dhcp: {
            ...rangesOf(dhcp),
            hosts: (dhcp.hosts ?? []).map((h) => ({ ...h })),
            // Networks that lead nowhere (isolated) hand out no default route, so guests do not try.
            router: opts.router ? host : false,
            ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
          },
        }
      : {}),
    ...(extra.length > 0
      ? {
          extra: extra.map((e) => ({
            subnet: networkOf(e.address),
            hostAddress: hostOf(e.address),
            ...(e.dhcp ? { dhcp: { ...rangesOf(e.dhcp), hosts: (e.dhcp.hosts ?? []).map((h) => ({ ...h })) } } : {}),
          })),
        }
      : {}),
    dns: dnsOn
      ? {
          ...(dns?.domain ? { domain: dns.domain } : {}),
          ...(dns?.localOnly !== undefined ? { localOnly: dns.localOnly } : {}),
          hosts: (dns?.hosts ?? []).map((h) => ({ ...h })),
          ...(dns?.srv ? { srv: dns.srv.map((r) => ({ ...r })) } : {}),
          ...(dns?.txt ? { txt: dns.txt.map((r) => ({ ...r })) } : {}),
          // Absent: the namespace's own resolvers (its resolv.conf, chosen where dnsmasq is started).
          ...(dns?.forwarders !== undefined ? { forwarders: dns.forwarders.map((f) => (typeof f === 'string' ? f : { ...f })) } : {}),
        }
      : false,
    // Router advertisements for each IPv6 prefix: guests get SLAAC addresses, the DNS server and (where
    // the network leads somewhere) the host as default router.
    ...(v6 && part.subnet6
      ? {
          ipv6: {
            hostAddress: hostOf(v6.address),
            prefix: part.subnet6,
            router: opts.router,
            ...(opts.mtu !== undefined && opts.mtu >= 1280 ? { mtu: opts.mtu } : {}),
            ...(v6.dhcp ? { dhcp: dhcp6Of(v6.dhcp) } : {}),
            ...(v6.extra?.length
              ? { extra: v6.extra.map((e) => ({ hostAddress: hostOf(e.address), prefix: networkOf(e.address), ...(e.dhcp ? { dhcp: dhcp6Of(e.dhcp) } : {}) })) }
              : {}),
          },
        }
      : {}),
  }
}
