/**
 * The schema of a network spec (see spec.ts), defined on first use: building its ~400 schema objects cost
 * every process that loads kvmnet ~1 ms and a fifth of its load's instructions, most of which never validate a spec
 * (a CLI's help, `status`, a CNI DEL). spec.ts calls defineSpecSchemas() once, when a spec is first
 * checked or the JSON Schema is asked for, and takes every spec type from what it returns.
 */
import { ipaddr } from '../util/index.js'
import { DUID_PATTERN, IFNAME_PATTERN, IFNAME_RULE, MAC_PATTERN, NETWORK_NAME_PATTERN, NETWORK_NAME_RULE, isIfName } from '../util/index.js'
import { s, type Schema } from '../schema/index.js'
import { ipv4Mapped, isCidr, unicastSubnet, usableHostAddress } from './spec-addresses.js'
import { defineBandwidthSchemas } from './spec-bandwidth.js'

/** Every schema of the spec: the variants of `mode` and the parts whose types spec.ts exports. */
export function defineSpecSchemas() {
  const { portBandwidthSchema, networkBandwidthSchema } = defineBandwidthSchemas()
  const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
  const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})*$`)

  const ifname = s.string().regex(IFNAME_PATTERN, IFNAME_RULE).refine(isIfName, IFNAME_RULE)
  const mac = s
    .string()
    .regex(MAC_PATTERN, 'a MAC address like 52:54:00:12:34:56')
    .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, 'is a multicast or broadcast MAC, not a NIC address')
    .refine((m) => m !== '00:00:00:00:00:00', 'is the all-zero MAC, not a NIC address')
  const ipv4 = s.string().refine((x) => ipaddr.IPv4.isValidFourPartDecimal(x), 'an IPv4 address in dotted-quad form')
  const MAPPED = 'an IPv4 address is written as one, not as an IPv4-mapped IPv6 address (::ffff:a.b.c.d)'
  const ipv6 = s
    .string()
    .refine((x) => ipaddr.IPv6.isValid(x) && !x.includes('%'), 'an IPv6 address')
    .refine((x) => !ipv4Mapped(x), MAPPED)
  const ipAny = s.union([ipv4, ipv6], `an IPv4 or IPv6 address (${MAPPED})`)
  const ipv4Cidr = s
    .string()
    .refine((x) => isCidr(x, 'ipv4'), 'an IPv4 address with prefix length 1-30, like 192.168.100.1/24')
    .refine((x) => usableHostAddress(x), 'a unicast host address (not loopback, multicast, broadcast or unspecified)')
    .refine(
      (x) => unicastSubnet(x),
      'a subnet of unicast addresses: none of its addresses may be in 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 (multicast) or 240.0.0.0/4 (reserved, broadcast)',
    )
  const ipv6Cidr = s
    .string()
    .refine((x) => isCidr(x, 'ipv6'), 'an IPv6 address with prefix length 1-126, like fd00:100::1/64')
    .refine((x) => usableHostAddress(x), 'a unicast host address (not loopback, multicast or unspecified)')
    .refine((x) => !ipv4Mapped(x.split('/')[0] ?? ''), MAPPED)
  const hostname = s.string().regex(HOSTNAME, 'a DNS host name (letters, digits, hyphens, dots)')
  /**
   * A reservation's name is a DNS name (one label, or several like paul.example.com) that dnsmasq cannot
   * read as anything else: in a dhcp-host line `ignore` means "no lease", a number or `5m`/`infinite` is a
   * lease time and an address moves the guest.
   */
  const reservationName = s
    .string()
    .regex(HOSTNAME, 'a host name: DNS labels of letters, digits and hyphens, separated by dots')
    .refine((x) => !/^(\d+[smhdw]?|infinite|ignore)$/i.test(x), 'reads as a dnsmasq keyword or lease time (ignore, infinite, 5m, 1001): pick another name')
    .refine((x) => !/(^|\.)\d+$/.test(x), 'ends in a number, so it reads as an address (no top-level domain is numeric): pick another name')
  const port = s.int(1, 65535)
  const leaseTime = s.union([s.int(120, 365 * 24 * 3600), s.literal('infinite')], 'seconds (120 … 31536000) or "infinite"')

  const dhcpHostSchema = s.object({
    mac: mac.describe("The guest NIC's MAC address"),
    ip: ipv4.describe('The reserved IPv4 address (inside the subnet, outside the dynamic range is not required)'),
    name: reservationName.optional().describe('Host name handed to the guest and resolvable (in dns.domain when it is one label, as written when it has dots)'),
    leaseTime: leaseTime.optional().describe('Lease time in seconds for this host, or "infinite"'),
  })

  /** A DHCP section of one family: the IPv4 and IPv6 ones differ in their addresses, reservations and words. */
  const dhcpSchemas = <H>(address: Schema<string>, host: Schema<H>, says: { range: string; ranges: string; hosts: string; section: string }) => {
    const range = s.object({
      start: address.describe('First address handed out'),
      end: address.describe('Last address handed out'),
      leaseTime: leaseTime.optional().describe('Lease time of this range in seconds, or "infinite"; default: the dhcp section\'s'),
    })
    const section = s
      .object({
        range: s.tuple<[string, string]>([address, address]).optional().describe(says.range),
        ranges: s.array(range).optional().describe(says.ranges),
        leaseTime: leaseTime.optional().describe('Lease time in seconds (default 3600), or "infinite"'),
        hosts: s.array(host).optional().describe(says.hosts),
      })
      .describe(says.section)
    return [range, section] as const
  }

  const [dhcpRange4Schema, dhcp4Schema] = dhcpSchemas(ipv4, dhcpHostSchema, {
    range: '[first, last] address handed out dynamically',
    ranges: 'Several dynamic ranges (instead of range), each with its own lease time if given',
    hosts: 'Static reservations; with neither range nor ranges, DHCP serves only these',
    section: 'Run dnsmasq DHCP on the bridge (reservations only when it has no range)',
  })

  const dnsHostSchema = s.object({
    name: hostname.describe('DNS name (a bare name is also resolvable under dns.domain)'),
    ip: ipAny.describe('Address the name resolves to'),
  })

  /** One DNS label of a service or protocol name (ldap, xmpp-server): dnsmasq puts an underscore before it. */
  const SERVICE_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

  const dnsSrvSchema = s.object({
    service: s.string().regex(SERVICE_LABEL, 'a service name: one DNS label without the underscore, like ldap').describe('Service name, e.g. ldap (the record is _ldap._tcp…)'),
    protocol: s.enum(['tcp', 'udp']).describe('Protocol of the service'),
    domain: hostname.optional().describe('Domain of the record; default: none (the name is _service._protocol)'),
    target: hostname.optional().describe('Host offering the service; none: the service is not offered'),
    port: s.int(0, 65535).optional().describe('Port of the service (needs target)'),
    priority: s.int(0, 65535).optional().describe('Priority (needs port)'),
    weight: s.int(0, 65535).optional().describe('Weight (needs priority)'),
  })

  /** A TXT value: printable text only, so no line or option of its own can ride along in dnsmasq's config. */
  const txtValue = s
    .string()
    .regex(/^[\x20-\x7e]{0,255}$/, 'printable ASCII text of at most 255 characters (no control characters or newlines)')

  const dnsTxtSchema = s.object({
    name: hostname.describe('Name of the record'),
    value: txtValue.describe('Text of the record'),
  })

  const dnsForwarderSchema = s.object({
    address: ipAny.optional().describe('Upstream server; alone: for every name not answered locally'),
    domain: hostname.optional().describe('Only names in this domain: to address, or without one to the ordinary upstream servers (libvirt\'s meaning)'),
  })

  const dnsSchema = s
    .object({
      enabled: s.boolean().optional().describe('Serve DNS on the bridge address (default true when dnsmasq runs)'),
      domain: hostname.optional().describe('Local DNS domain for guests, e.g. vm.internal'),
      localOnly: s.boolean().optional().describe('Names under domain are answered locally only, never forwarded; default true (kvmnet has always kept its domain local)'),
      hosts: s.array(dnsHostSchema).optional().describe('Extra DNS host records'),
      srv: s.array(dnsSrvSchema).optional().describe('DNS SRV records'),
      txt: s.array(dnsTxtSchema).optional().describe('DNS TXT records'),
      forwarders: s
        .array(s.union([ipAny, dnsForwarderSchema], 'an IP address, or { address, domain } with at least one of the two'))
        .optional()
        .describe("Upstream DNS servers (an address, or { domain, address } for one domain only); default: the resolvers of the network's namespace (/etc/netns/NETNS/resolv.conf when it has one, else /etc/resolv.conf, followed as it changes); [] answers local names only"),
    })
    .describe('DNS served by the network\'s dnsmasq')

  const forwardSchema = s.object({
    proto: s.enum(['tcp', 'udp']).describe('Transport protocol'),
    hostPort: s
      .union([port, s.tuple<[number, number]>([port, port])], 'a port 1-65535 or a [first, last] range')
      .describe('Host port, or an inclusive [first, last] range, that is forwarded'),
    guest: ipAny.describe("Guest address: IPv4 inside the subnet, or IPv6 inside ipv6.address's prefix"),
    guestPort: port.optional().describe('Guest port (the first of the range for a range); default: hostPort'),
    hostAddress: ipAny.optional().describe("Only forward connections to this host address (of the guest's family)"),
    inInterface: ifname.optional().describe('Only forward connections arriving on this interface'),
  })

  const portCommon = {
    name: ifname.describe('Interface name of the port, <= 15 bytes'),
    mac: mac.optional().describe("The guest's MAC address; default: 52:54:00 prefix, stable per host, network and port"),
  }

  const tapPortSchema = s.object({
    ...portCommon,
    kind: s.literal('tap').optional().describe('tap (the only kind on bridged networks)'),
    owner: s.int(0, 4294967294).optional().describe('uid allowed to open the tap (e.g. the QEMU user)'),
    group: s.int(0, 4294967294).optional().describe('gid allowed to open the tap'),
    queues: s.int(1, 256).optional().describe('Number of queues (multiqueue when > 1)'),
    vnetHdr: s.boolean().optional().describe('IFF_VNET_HDR (virtio-net offloads); default true'),
    persistent: s.boolean().optional().describe('Persistent device that QEMU opens by name (default true); false hands the fds to the caller'),
    filtering: s.boolean().optional().describe("Filter this guest's traffic against impersonation (default: the network's filtering)"),
    bandwidth: portBandwidthSchema.optional(),
  })

  const macvtapPortSchema = s.object({
    ...portCommon,
    kind: s.literal('macvtap').optional().describe('macvtap (the only kind on macvtap networks)'),
    bandwidth: portBandwidthSchema.optional().describe('Not possible on a macvtap port (refused): traffic to the guest bypasses the macvtap\'s queue'),
  })

  const common = {
    name: s
      .string()
      .regex(NETWORK_NAME_PATTERN, NETWORK_NAME_RULE)
      .describe('Network name; tags every object kvmnet creates for it'),
    netns: s
      .string()
      .regex(/^[^/\0]{1,255}$|^\/[^\0]+$/, 'a namespace name under /run/netns or an absolute path')
      // As Netns.open names them (validateNetnsName): '..' was accepted here, then refused there as 'name'.
      .refine((x) => x.startsWith('/') || (x !== '.' && x !== '..' && Buffer.byteLength(x) <= 255), "a namespace name (at most 255 bytes, not '.' or '..') or an absolute path")
      .optional()
      .describe('Network namespace (name under /run/netns or a path) to build the network in; default: the current one'),
    mtu: s.int(68, 65535).optional().describe('MTU of the bridge and ports'),
    group: s.int(1, 0x7fffffff).optional().describe('Link group for bulk teardown; default derived from the name'),
  }

  const vxlanSchema = s
    .object({
      vni: s.int(1, 16777215).describe('VXLAN network identifier, 1-16777215: the same on every host of the segment'),
      local: ipAny.optional().describe("This host's underlay address, the tunnel's source (its family is the underlay's)"),
      port: port.optional().describe('UDP destination port (default 4789, the IANA port; the same on every host)'),
      underlay: ifname.optional().describe('The device carrying the tunnel: its MTU minus the encapsulation (50, IPv6: 70) is the network\'s MTU; needed with group'),
      peers: s.array(ipAny).optional().describe("The other hosts' underlay addresses: broadcast and unknown frames are sent to each (head-end replication)"),
      group: ipAny.optional().describe('A multicast group for broadcast and unknown frames instead of peers (joined on underlay)'),
    })
    .describe('Stretch the network\'s L2 across hosts: a VXLAN device on the bridge, tunnelling to the peers')
  /** How kvmnet lives beside other firewalls of the namespace (Docker, ufw, firewalld). */
  const firewallOptionsSchema = s
    .object({
      coexist: s
        .boolean()
        .optional()
        .describe("Let the bridge's traffic through Docker (DOCKER-USER), ufw and firewalld with rules tagged kvmnet:<name>, removed on down; default true (false for open networks)"),
    })
    .optional()
    .describe('Coexistence with other firewalls of the namespace')

  const bridged = {
    ...common,
    bridge: ifname.optional().describe('Bridge interface name; default kvbr-<name> (shortened to 15 bytes)'),
    ports: s.array(tapPortSchema).optional().describe('VM ports (taps) created with the network'),
    vxlan: vxlanSchema.optional(),
    firewall: firewallOptionsSchema,
    bandwidth: networkBandwidthSchema.optional(),
  }

  const hostSchema = s
    .object({
      services: s
        .union(
          [s.enum(['all', 'dhcp-dns']), s.array(s.object({ proto: s.enum(['tcp', 'udp']), port: s.int(1, 65535) }))],
          "'all', 'dhcp-dns' or a list of { proto, port }",
        )
        .optional()
        .describe("What guests may reach on the host (any of its addresses): 'all' (default), 'dhcp-dns' (DHCP, DNS and replies only), or those plus the listed services"),
    })
    .optional()
    .describe('The host as guests see it')

  const uplink = ifname.optional().describe('Forward (and masquerade) only out of this interface; default: the device of the default route')

  const ipv4ExtraSchema = s.object({
    address: ipv4Cidr.describe('Another host-side address with prefix, in a subnet of its own'),
    dhcp: dhcp4Schema.optional(),
  })

  const ipv4Extra = s
    .array(ipv4ExtraSchema)
    .optional()
    .describe('More IPv4 subnets on the bridge, each with its own DHCP, NATed/routed/isolated like the first')

  const routedIpv4 = s
    .object({
      address: ipv4Cidr.describe('Host-side address with prefix, e.g. 192.168.100.1/24'),
      dhcp: dhcp4Schema.optional(),
      extra: ipv4Extra,
    })
    .optional()
    .describe('IPv4 on the bridge (ipv4, ipv6 or both)')

  const ipv6Address = ipv6Cidr.describe('Host-side IPv6 address with prefix, e.g. fd00:100::1/64')

  const dhcp6HostSchema = s.object({
    id: s.string().regex(DUID_PATTERN, 'a DHCPv6 client DUID in hex, like 00:03:00:01:52:54:00:12:34:56').optional().describe("The client's DUID (what a DHCPv6 client identifies itself by)"),
    mac: mac.optional().describe("The guest NIC's MAC (matched when dnsmasq can tell it, e.g. from a DUID-LL)"),
    ip: ipv6.describe('The reserved IPv6 address (inside the prefix)'),
    name: reservationName.optional().describe('Host name; resolvable (AAAA) in dns.domain'),
    leaseTime: leaseTime.optional().describe('Lease time in seconds for this host, or "infinite"'),
  })

  const [dhcpRange6Schema, dhcp6Schema] = dhcpSchemas(ipv6, dhcp6HostSchema, {
    range: '[first, last] address handed out by stateful DHCPv6',
    ranges: 'Several stateful ranges (instead of range)',
    hosts: 'Static reservations by DUID or MAC; with neither range nor ranges, DHCPv6 serves only these',
    section: 'Stateful DHCPv6 (guests also keep SLAAC)',
  })

  const ipv6ExtraSchema = s.object({
    address: ipv6Cidr.describe('Another host-side IPv6 address with prefix, in a prefix of its own'),
    dhcp: dhcp6Schema.optional(),
  })

  const ipv6Extra = s
    .array(ipv6ExtraSchema)
    .optional()
    .describe('More IPv6 prefixes on the bridge, each advertised with its own DHCPv6, routed/isolated like the first')

  const natSpecSchema = s.object({
    ...bridged,
    host: hostSchema,
    filtering: s
      .boolean()
      .optional()
      .describe("Filter guests' traffic against impersonation: only their own MAC, their reserved IPv4 (or none of the other guests'), no DHCP server or router advertisements; per port with ports[].filtering"),
    mode: s.literal('nat').describe('Guests reach the outside masqueraded behind the host'),
    uplink,
    ipv4: routedIpv4,
    ipv6: s
      .object({
        address: ipv6Address,
        nat66: s.boolean().optional().describe('Masquerade IPv6 too (NAT66); default false'),
        snat: ipv6.optional().describe('With nat66: SNAT66 to this fixed IPv6 address instead of masquerade'),
        dhcp: dhcp6Schema.optional(),
        extra: ipv6Extra,
      })
      .optional()
      .describe('IPv6 on the bridge'),
    dns: dnsSchema.optional(),
    forwards: s.array(forwardSchema).optional().describe('Port forwards (DNAT) from the host to guests'),
    snat: ipv4
      .refine((x) => usableHostAddress(`${x}/32`), 'a unicast IPv4 address (not 0.0.0.0, multicast, loopback or broadcast)')
      .optional()
      .describe('SNAT to this fixed address instead of masquerade'),
  })

  const routedSpecSchema = s.object({
    ...bridged,
    host: hostSchema,
    filtering: s
      .boolean()
      .optional()
      .describe("Filter guests' traffic against impersonation: only their own MAC, their reserved IPv4 (or none of the other guests'), no DHCP server or router advertisements; per port with ports[].filtering"),
    mode: s.literal('routed').describe('Guests reach the outside with their own addresses, routed by the host without NAT'),
    uplink,
    ipv4: routedIpv4,
    ipv6: s.object({ address: ipv6Address, dhcp: dhcp6Schema.optional(), extra: ipv6Extra }).optional().describe('IPv6 on the bridge'),
    dns: dnsSchema.optional(),
  })

  const openSpecSchema = s.object({
    ...bridged,
    mode: s.literal('open').describe('Like routed, but kvmnet adds no firewall rules at all'),
    ipv4: routedIpv4,
    ipv6: s.object({ address: ipv6Address, dhcp: dhcp6Schema.optional(), extra: ipv6Extra }).optional().describe('IPv6 on the bridge'),
    dns: dnsSchema.optional(),
  })

  const isolatedSpecSchema = s.object({
    ...bridged,
    host: hostSchema,
    filtering: s
      .boolean()
      .optional()
      .describe("Filter guests' traffic against impersonation: only their own MAC, their reserved IPv4 (or none of the other guests'), no DHCP server or router advertisements; per port with ports[].filtering"),
    mode: s.literal('isolated').describe('Guests and the host only; forwarding is rejected'),
    ipv4: s
      .object({
        address: ipv4Cidr.optional().describe('Host-side address with prefix, e.g. 192.168.100.1/24'),
        dhcp: dhcp4Schema.optional(),
        extra: ipv4Extra,
      })
      .optional()
      .describe('IPv4 on the bridge'),
    ipv6: s.object({ address: ipv6Address, dhcp: dhcp6Schema.optional(), extra: ipv6Extra }).optional().describe('IPv6 on the bridge'),
    dns: dnsSchema.optional(),
  })

  const veryIsolatedSpecSchema = s.object({
    ...bridged,
    mode: s.literal('very-isolated').describe('Guests share L2 only: no host address, no DHCP, no DNS'),
  })

  const bridgeSpecSchema = s.object({
    ...bridged,
    mode: s.literal('bridge').describe("A NIC is enslaved to the bridge; guests are on the NIC's LAN"),
    interface: ifname.describe('The NIC to enslave (its addresses and routes move to the bridge)'),
    adoptManagedInterface: s
      .boolean()
      .optional()
      .describe(
        'Take over a NIC that a DHCP client or NetworkManager manages: the client is restarted on the bridge, NetworkManager told to leave the NIC; both given back on down. Without it such a NIC is refused',
      ),
  })

  const macvtapSpecSchema = s.object({
    ...common,
    mode: s.literal('macvtap').describe("Each guest gets a macvtap on a NIC, directly on the NIC's LAN"),
    interface: ifname.describe('The parent NIC'),
    macvtapMode: s.enum(['bridge', 'vepa', 'private', 'passthru']).optional().describe('Mode of every macvtap port; default bridge'),
    hostAccess: s.boolean().optional().describe('Add a host macvlan (bridge mode) carrying ipv4.address, so host <-> guest works'),
    ipv4: s
      .object({ address: ipv4Cidr.describe("The host macvlan's address with prefix (hostAccess)") })
      .optional()
      .describe('IPv4 of the host helper'),
    ports: s.array(macvtapPortSchema).optional().describe('VM ports (macvtaps) created with the network'),
  })

  return {
    variants: { nat: natSpecSchema, routed: routedSpecSchema, open: openSpecSchema, isolated: isolatedSpecSchema, 'very-isolated': veryIsolatedSpecSchema, bridge: bridgeSpecSchema, macvtap: macvtapSpecSchema },
    // The parts spec.ts names a type after.
    dhcpHostSchema, dhcpRange4Schema, dhcp4Schema, dnsHostSchema, dnsSrvSchema, dnsTxtSchema, dnsForwarderSchema, forwardSchema, tapPortSchema, macvtapPortSchema,
    vxlanSchema, firewallOptionsSchema, ipv4ExtraSchema, dhcp6HostSchema, dhcpRange6Schema, dhcp6Schema, ipv6ExtraSchema, portBandwidthSchema, networkBandwidthSchema,
  }
}
