/**
 * The network spec: the JSON a user writes (CLI) or the object an orchestrator passes (API). The zod schema
 * is the single source of truth for field names, the published JSON Schema and shape errors; `validateSpec`
 * adds the checks that relate fields to each other (a reservation inside the subnet, a mode's required
 * fields). Everything is checked before anything is touched, and every error names the field.
 */
import ipaddr from 'ipaddr.js'
import { z } from 'zod'
import { SpecError } from '../errors.js'

const IFNAME = /^[A-Za-z0-9_.:@+-]{1,15}$/
const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

const ifname = z
  .string()
  .regex(IFNAME, 'an interface name: 1-15 bytes of letters, digits and _ . : @ + -')
  .refine((s) => s !== '.' && s !== '..', 'not . or ..')
const mac = z.string().regex(MAC, 'a MAC address like 52:54:00:12:34:56')
const ipv4 = z.string().refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s), 'an IPv4 address in dotted-quad form')
const ipv6 = z.string().refine((s) => ipaddr.IPv6.isValid(s) && !s.includes('%'), 'an IPv6 address')
const ipv4Cidr = z.string().refine((s) => isCidr(s, 'ipv4'), 'an IPv4 address with prefix length, like 192.168.100.1/24')
const ipv6Cidr = z.string().refine((s) => isCidr(s, 'ipv6'), 'an IPv6 address with prefix length, like fd00:100::1/64')
const hostname = z.string().regex(HOSTNAME, 'a DNS host name (letters, digits, hyphens, dots)')
const port = z.number().int().min(1).max(65535)
const leaseTime = z.union([z.number().int().min(120).max(365 * 24 * 3600), z.literal('infinite')])

function isCidr(s: string, kind: 'ipv4' | 'ipv6'): boolean {
  try {
    const [addr, len] = ipaddr.parseCIDR(s)
    if (addr.kind() !== kind) return false
    return kind === 'ipv4' ? ipaddr.IPv4.isValidFourPartDecimal(s.split('/')[0] ?? '') && len >= 1 && len <= 30 : len >= 1 && len <= 126
  } catch {
    return false
  }
}

export const dhcpHostSchema = z.strictObject({
  mac: mac.describe('The guest NIC MAC address'),
  ip: ipv4.describe('The reserved IPv4 address (inside the subnet)'),
  name: hostname.optional().describe('Host name handed to the guest and resolvable in dns.domain'),
  leaseTime: leaseTime.optional().describe('Lease time in seconds for this host, or "infinite"'),
})

export const dnsHostSchema = z.strictObject({
  name: hostname.describe('DNS name (a bare name is also resolvable under dns.domain)'),
  ip: z.union([ipv4, ipv6]).describe('Address the name resolves to'),
})

export const forwardSchema = z.strictObject({
  proto: z.enum(['tcp', 'udp']).describe('Transport protocol'),
  hostPort: z
    .union([port, z.tuple([port, port])])
    .describe('Host port, or an inclusive [first, last] range, that is forwarded'),
  guest: ipv4.describe('Guest IPv4 address (inside the subnet)'),
  guestPort: port.optional().describe('Guest port (the first of the range for a range); default: hostPort'),
  hostAddress: ipv4.optional().describe('Only forward connections to this host address'),
  inInterface: ifname.optional().describe('Only forward connections arriving on this interface'),
})

export const portSchema = z.strictObject({
  name: ifname.describe('Interface name of the port (tap or macvtap), <= 15 bytes'),
  kind: z.enum(['tap', 'macvtap']).optional().describe('tap (bridged modes) or macvtap (macvtap mode); default from mode'),
  mac: mac.optional().describe('Guest MAC; default: 52:54:00 prefix, stable per port name'),
  owner: z.number().int().min(0).max(4294967294).optional().describe('tap: uid allowed to open it (e.g. the QEMU user)'),
  group: z.number().int().min(0).max(4294967294).optional().describe('tap: gid allowed to open it'),
  queues: z.number().int().min(1).max(256).optional().describe('tap: number of queues (multiqueue when > 1)'),
  vnetHdr: z.boolean().optional().describe('tap: IFF_VNET_HDR (virtio-net offloads); default true'),
  persistent: z
    .boolean()
    .optional()
    .describe('tap: persistent device that QEMU opens by name (default true); false hands the fds to the caller'),
})

export const specSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, '1-32 letters, digits, _ or -, starting with a letter or digit')
    .describe('Network name; tags every object kvmnet creates for it'),
  netns: z
    .string()
    .regex(/^[^/\0]{1,255}$|^\/[^\0]+$/, 'a namespace name under /run/netns or an absolute path')
    .optional()
    .describe('Network namespace (name under /run/netns or a path) to build the network in; default: the current one'),
  mode: z.enum(['nat', 'isolated', 'very-isolated', 'bridge', 'macvtap']).describe('Network kind'),
  bridge: ifname.optional().describe('Bridge interface name; default kvbr-<name> (truncated to 15 bytes)'),
  uplink: ifname.optional().describe('nat: only masquerade out of this interface; default: the default route device'),
  interface: ifname.optional().describe('bridge: the NIC to enslave; macvtap: the parent NIC'),
  macvtapMode: z
    .enum(['bridge', 'vepa', 'private', 'passthru'])
    .optional()
    .describe('macvtap: the macvtap (and host helper) mode; default bridge'),
  hostAccess: z
    .boolean()
    .optional()
    .describe('macvtap: add a host macvlan (bridge mode) carrying ipv4.address so host <-> guest works'),
  mtu: z.number().int().min(68).max(65535).optional().describe('MTU of the bridge and ports'),
  ipv4: z
    .strictObject({
      address: ipv4Cidr.optional().describe('Host-side address with prefix, e.g. 192.168.100.1/24'),
      dhcp: z
        .strictObject({
          range: z.tuple([ipv4, ipv4]).describe('[first, last] address handed out dynamically'),
          leaseTime: leaseTime.optional().describe('Lease time in seconds (default 3600), or "infinite"'),
          hosts: z.array(dhcpHostSchema).optional().describe('Static reservations'),
        })
        .optional()
        .describe('Run dnsmasq DHCP on the bridge'),
    })
    .optional(),
  ipv6: z
    .strictObject({
      address: ipv6Cidr.describe('Host-side IPv6 address with prefix, e.g. fd00:100::1/64'),
      nat66: z.boolean().optional().describe('nat: masquerade IPv6 too (NAT66); default false'),
    })
    .optional(),
  dns: z
    .strictObject({
      enabled: z.boolean().optional().describe('Serve DNS on the bridge address (default true when dnsmasq runs)'),
      domain: hostname.optional().describe('Local DNS domain for guests, e.g. vm.internal'),
      hosts: z.array(dnsHostSchema).optional().describe('Extra DNS host records'),
      forwarders: z.array(z.union([ipv4, ipv6])).optional().describe('Upstream DNS servers; default: none (local names only)'),
    })
    .optional(),
  forwards: z.array(forwardSchema).optional().describe('Port forwards (DNAT) from the host to guests'),
  snat: ipv4.optional().describe('nat: SNAT to this fixed address instead of masquerade'),
  group: z.number().int().min(1).max(0x7fffffff).optional().describe('Link group for bulk teardown; default derived from the name'),
  ports: z.array(portSchema).optional().describe('VM ports created with the network'),
})

export type NetworkSpecInput = z.input<typeof specSchema>
export type NetworkSpec = z.output<typeof specSchema>
export type NetworkMode = NetworkSpec['mode']
export type PortSpec = z.output<typeof portSchema>
export type ForwardSpec = z.output<typeof forwardSchema>
export type DhcpHostSpec = z.output<typeof dhcpHostSchema>
export type DnsHostSpec = z.output<typeof dnsHostSchema>

type Issue = { field: string; reason: string }

function fieldPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out ? `.${String(p)}` : String(p)
  }
  return out
}

/** Parse and check a spec; throws SpecError naming the first offending field (all of them in `.issues`). */
export function validateSpec(input: unknown): NetworkSpec {
  const parsed = specSchema.safeParse(input)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') {
        const keys = (i as { keys: string[] }).keys
        return { field: fieldPath([...i.path, keys[0] ?? '']), reason: `unknown field (${keys.join(', ')})` }
      }
      return { field: fieldPath(i.path), reason: i.message }
    })
    const first = issues[0] ?? { field: '', reason: 'invalid spec' }
    throw new SpecError(first.field, first.reason, issues)
  }
  const spec = parsed.data
  const issues = checkRelations(spec)
  if (issues.length > 0) throw new SpecError(issues[0]!.field, issues[0]!.reason, issues)
  return spec
}

function inSubnet(ip: string, cidr: [ipaddr.IPv4, number]): boolean {
  return ipaddr.IPv4.parse(ip).match(cidr)
}

function v4num(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0)
}

/** Checks between fields: mode requirements, addresses inside the subnet, uniqueness. */
function checkRelations(spec: NetworkSpec): Issue[] {
  const issues: Issue[] = []
  const bad = (field: string, reason: string) => issues.push({ field, reason })
  const mode = spec.mode
  const addr = spec.ipv4?.address
  const dhcp = spec.ipv4?.dhcp
  const l2Only = mode === 'bridge' || mode === 'macvtap'

  if (mode === 'nat' && !addr) bad('ipv4.address', 'a nat network needs a host address')
  if (mode === 'very-isolated') {
    if (addr) bad('ipv4.address', 'a very-isolated network has no host address')
    if (spec.ipv6) bad('ipv6', 'a very-isolated network has no host address')
    if (spec.dns) bad('dns', 'a very-isolated network has no DNS')
  }
  if ((mode === 'bridge' || mode === 'macvtap') && !spec.interface) bad('interface', `a ${mode} network needs the NIC to use`)
  if (mode !== 'bridge' && mode !== 'macvtap' && spec.interface) bad('interface', `only bridge and macvtap networks use a NIC`)
  if (mode !== 'macvtap') {
    if (spec.macvtapMode) bad('macvtapMode', 'only for macvtap networks')
    if (spec.hostAccess !== undefined) bad('hostAccess', 'only for macvtap networks')
  }
  if (mode === 'macvtap') {
    if (spec.bridge) bad('bridge', 'a macvtap network has no bridge')
    if (spec.hostAccess && !addr) bad('ipv4.address', 'hostAccess needs the host address for the macvlan helper')
    if (!spec.hostAccess && addr) bad('ipv4.address', 'a macvtap network carries a host address only with hostAccess')
  }
  if (l2Only || mode === 'very-isolated') {
    if (dhcp) bad('ipv4.dhcp', `a ${mode} network does not run DHCP (${l2Only ? "the LAN's serves it" : 'guests share L2 only'})`)
    if (spec.forwards?.length) bad('forwards', `port forwards need a nat or isolated network`)
  }
  if (mode === 'bridge' && addr) bad('ipv4.address', 'a bridge network takes over the NIC\'s own addresses')
  if (mode !== 'nat') {
    if (spec.snat) bad('snat', 'only nat networks masquerade or SNAT')
    if (spec.uplink) bad('uplink', 'only nat networks have an uplink')
    if (spec.ipv6?.nat66) bad('ipv6.nat66', 'only nat networks masquerade')
  }
  if (mode === 'isolated' && spec.forwards?.length) {
    // An isolated network rejects forwarding; a DNAT into it would be dropped by its own rules.
    bad('forwards', 'an isolated network rejects forwarded traffic; use a nat network for port forwards')
  }
  if (spec.dns && !dhcp && mode !== 'nat' && mode !== 'isolated') bad('dns', 'DNS is served by the network\'s dnsmasq')
  if (spec.dns && !addr) bad('dns', 'DNS needs a host address to listen on')
  if (dhcp && !addr) bad('ipv4.dhcp', 'DHCP needs a host address on the bridge')

  if (spec.interface && spec.bridge && spec.interface === spec.bridge) bad('bridge', 'must differ from interface')

  if (addr) {
    const cidr = ipaddr.IPv4.parseCIDR(addr)
    const net = ipaddr.IPv4.networkAddressFromCIDR(addr).toString()
    const bcast = ipaddr.IPv4.broadcastAddressFromCIDR(addr).toString()
    const host = addr.split('/')[0]!
    if (host === net || host === bcast) bad('ipv4.address', 'is the network or broadcast address of its subnet')
    const inside = (field: string, ip: string) => {
      if (!inSubnet(ip, cidr)) bad(field, `${ip} is outside ${net}/${cidr[1]}`)
      else if (ip === net || ip === bcast) bad(field, `${ip} is the network or broadcast address`)
      else if (ip === host) bad(field, `${ip} is the host's own address`)
    }
    if (dhcp) {
      const [a, b] = dhcp.range
      inside('ipv4.dhcp.range[0]', a)
      inside('ipv4.dhcp.range[1]', b)
      if (v4num(a) > v4num(b)) bad('ipv4.dhcp.range', 'first address is after the last')
      const seen = { mac: new Map<string, number>(), ip: new Map<string, number>(), name: new Map<string, number>() }
      dhcp.hosts?.forEach((h, i) => {
        inside(`ipv4.dhcp.hosts[${i}].ip`, h.ip)
        for (const k of ['mac', 'ip', 'name'] as const) {
          const v = h[k]?.toLowerCase()
          if (v === undefined) continue
          const prev = seen[k].get(v)
          if (prev !== undefined) bad(`ipv4.dhcp.hosts[${i}].${k}`, `duplicates ipv4.dhcp.hosts[${prev}].${k}`)
          else seen[k].set(v, i)
        }
      })
    }
    spec.forwards?.forEach((f, i) => {
      inside(`forwards[${i}].guest`, f.guest)
    })
  }
  spec.forwards?.forEach((f, i) => {
    if (Array.isArray(f.hostPort)) {
      const [a, b] = f.hostPort
      if (a > b) bad(`forwards[${i}].hostPort`, 'range start is after its end')
      else if (f.guestPort !== undefined && f.guestPort + (b - a) > 65535) bad(`forwards[${i}].guestPort`, 'range runs past 65535')
    }
  })
  const seenForwards: { proto: string; lo: number; hi: number; hostAddress: string | undefined; i: number }[] = []
  spec.forwards?.forEach((f, i) => {
    const [lo, hi] = Array.isArray(f.hostPort) ? f.hostPort : [f.hostPort, f.hostPort]
    for (const g of seenForwards) {
      // Two forwards collide on the same protocol and port when they can match the same host address.
      const sameAddress = !f.hostAddress || !g.hostAddress || f.hostAddress === g.hostAddress
      if (g.proto === f.proto && sameAddress && lo <= g.hi && hi >= g.lo) bad(`forwards[${i}].hostPort`, `overlaps forwards[${g.i}]`)
    }
    seenForwards.push({ proto: f.proto, lo, hi, hostAddress: f.hostAddress, i })
  })

  const names = new Map<string, number>()
  const macs = new Map<string, number>()
  spec.ports?.forEach((p, i) => {
    const prev = names.get(p.name)
    if (prev !== undefined) bad(`ports[${i}].name`, `duplicates ports[${prev}].name`)
    names.set(p.name, i)
    if (p.mac) {
      const m = p.mac.toLowerCase()
      const pm = macs.get(m)
      if (pm !== undefined) bad(`ports[${i}].mac`, `duplicates ports[${pm}].mac`)
      macs.set(m, i)
      if ((parseInt(m.slice(0, 2), 16) & 1) === 1) bad(`ports[${i}].mac`, 'is a multicast address')
    }
    const kind = p.kind ?? (mode === 'macvtap' ? 'macvtap' : 'tap')
    if (mode === 'macvtap' && kind !== 'macvtap') bad(`ports[${i}].kind`, 'a macvtap network has macvtap ports')
    if (mode !== 'macvtap' && kind === 'macvtap') bad(`ports[${i}].kind`, 'macvtap ports belong to macvtap networks')
    if (kind === 'macvtap') {
      for (const k of ['owner', 'group', 'queues', 'persistent'] as const)
        if (p[k] !== undefined) bad(`ports[${i}].${k}`, 'only for tap ports')
    }
    if (spec.bridge && p.name === spec.bridge) bad(`ports[${i}].name`, 'is the bridge name')
    if (spec.interface && p.name === spec.interface) bad(`ports[${i}].name`, 'is the NIC name')
  })
  return issues
}
