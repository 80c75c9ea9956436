/**
 * Golden tests of what libvirt networks have in plain networking (issue 23 item 2), rendered into dnsmasq's
 * config: SRV and TXT records, domain-limited forwarders, localOnly, several ranges, reservations-only
 * DHCP (v4 and v6), per-host DHCPv6 lease times, dotted reservation names, several subnets on one
 * interface, IPv6-only. Each compared with the line libvirt 9.0 writes for the same XML
 * (tests/networkxml2confdata) where libvirt has one.
 */
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dnsmasqPaths, renderConfig, validateDnsmasqSpec, type DnsmasqSpec } from '../../src/dnsmasq/index.js'
import { SpecError } from '../../src/errors.js'
import { validateSpec } from '../../src/network/validate.js'
import { planFor, dnsmasqOf, firewallOf } from '../../src/network/kinds/index.js'
import { addReservationEdit, removeReservationEdit } from '../../src/network/edits.js'
import { emptyRuntime } from '../../src/network/runtime.js'
import { expectedSockets, missingSockets, parseSocketTable } from '../../src/dnsmasq/sockets.js'

const GOLDEN = fileURLToPath(new URL('./fixtures/dnsmasq/golden/', import.meta.url))
const paths = dnsmasqPaths('/run/kvmnet/host/lv/dnsmasq')

function golden(t: Test, name: string, actual: string): void {
  const file = `${GOLDEN}${name}`
  if (process.env.KVMNET_UPDATE_GOLDEN) writeFileSync(file, actual)
  t.equal(actual, readFileSync(file, 'utf8'), `${name} matches the golden file`)
}

const lines = (conf: string, re: RegExp) => conf.split('\n').filter((l) => re.test(l))

const records: DnsmasqSpec = {
  network: 'lv',
  interface: 'virbr0',
  subnet: '192.168.122.0/24',
  hostAddress: '192.168.122.1',
  dhcp: { range: ['192.168.122.2', '192.168.122.254'] },
  dns: {
    domain: 'example.com',
    srv: [
      { service: 'name', protocol: 'tcp' },
      { service: 'name', protocol: 'tcp', domain: 'test-domain-name.com', target: 'test.example.com', port: 1111, priority: 11, weight: 111 },
      { service: 'name2', protocol: 'udp', target: 'test2.example.com', port: 2222, priority: 22, weight: 222 },
      { service: 'name4', protocol: 'tcp', domain: 'test4.com', target: 'test4.example.com', port: 4444 },
    ],
    txt: [{ name: 'example', value: 'example value' }, { name: 'tricky.example.com', value: 'a,"b"\\ # c' }],
    forwarders: ['8.8.8.8', { address: '8.8.4.4' }, { domain: 'example.org', address: '192.168.1.1' }, { domain: 'www.example.org' }],
  },
}

t.test('SRV, TXT and domain-limited forwarders, as libvirt writes them', async (t) => {
  const r = renderConfig(records, paths)
  golden(t, 'libvirt-records.conf', r.conf)
  t.same(lines(r.conf, /^srv-host=/), [
    'srv-host=_name._tcp',
    'srv-host=_name._tcp.test-domain-name.com,test.example.com,1111,11,111',
    'srv-host=_name2._udp,test2.example.com,2222,22,222',
    'srv-host=_name4._tcp.test4.com,test4.example.com,4444',
  ], "libvirt's nat-network-dns-srv-record.conf lines")
  t.same(lines(r.conf, /^server=/), ['server=8.8.8.8', 'server=8.8.4.4', 'server=/example.org/192.168.1.1', 'server=/www.example.org/#'], "libvirt's nat-network-dns-forwarders.conf lines")
  // Quoted, with \ and " escaped: the comma, quote and '#' stay inside the one value.
  t.same(lines(r.conf, /^txt-record=/), ['txt-record=example,"example value"', 'txt-record=tricky.example.com,"a,\\"b\\"\\\\ # c"'])
  t.same(lines(r.conf, /^local=/), ['local=/example.com/'], 'localOnly by default')
  t.same(lines(renderConfig({ ...records, dns: { domain: 'example.com', localOnly: false } }, paths).conf, /^local=/), [], 'localOnly: false forwards the domain')
})

t.test('a TXT value cannot inject a line or option', async (t) => {
  for (const value of ['a\nserver=1.2.3.4', 'a\rb', 'tab\there', 'é']) {
    t.throws(() => validateDnsmasqSpec({ ...records, dns: { txt: [{ name: 'x', value }] } }), SpecError, JSON.stringify(value))
    const err = (() => {
      try {
        validateSpec({ name: 'n', mode: 'nat', ipv4: { address: '10.0.0.1/24' }, dns: { txt: [{ name: 'x', value }] } })
      } catch (e) {
        return e
      }
      return undefined
    })()
    t.equal(err instanceof SpecError ? err.field : undefined, 'dns.txt[0].value', `${JSON.stringify(value)} refused naming dns.txt[0].value`)
  }
})

const ranges: DnsmasqSpec = {
  network: 'lv',
  interface: 'virbr1',
  subnet: '192.168.122.0/24',
  hostAddress: '192.168.122.1',
  dhcp: {
    ranges: [{ start: '192.168.122.2', end: '192.168.122.50', leaseTime: 600 }, { start: '192.168.122.100', end: '192.168.122.150' }],
    leaseTime: 'infinite',
    hosts: [{ mac: '00:16:3e:77:e2:ed', ip: '192.168.122.10', name: 'a.example.com' }],
  },
  extra: [{ subnet: '192.168.123.0/24', hostAddress: '192.168.123.1', dhcp: { hosts: [{ mac: '00:16:3e:3e:a9:1a', ip: '192.168.123.11', name: 'b.example.com', leaseTime: 7200 }] } }],
  dns: { domain: 'example.com' },
  ipv6: {
    hostAddress: '2001:db8:ac10:fd01::1',
    prefix: '2001:db8:ac10:fd01::/64',
    router: true,
    dhcp: {
      hosts: [
        { id: '00:04:7e:7d:f0:7d:a8:bc:c5:d2:13:32:11:ed:16:ea:84:63', ip: '2001:db8:ac10:fd01::1:20' },
        { id: '00:03:00:01:00:16:3e:11:22:33', name: 'peter.xyz', ip: '2001:db8:ac10:fd01::1:22', leaseTime: 7200 },
      ],
    },
    extra: [{ hostAddress: '2001:db8:ac10:fe01::1', prefix: '2001:db8:ac10:fe01::/64', dhcp: { range: ['2001:db8:ac10:fe01::1:10', '2001:db8:ac10:fe01::1:ff'] } }],
  },
}

t.test('several ranges, reservations only, extra subnets and per-host DHCPv6 lease times', async (t) => {
  const r = renderConfig(ranges, paths)
  golden(t, 'libvirt-ranges.conf', r.conf)
  golden(t, 'libvirt-ranges.dhcp-hosts', r.hostsFile)
  t.same(lines(r.conf, /^dhcp-range=/), [
    'dhcp-range=192.168.122.2,192.168.122.50,255.255.255.0,600',
    'dhcp-range=192.168.122.100,192.168.122.150,255.255.255.0,infinite',
    'dhcp-range=set:extra0,192.168.123.0,static,255.255.255.0,infinite',
    'dhcp-range=2001:db8:ac10:fd01::,static,slaac,64,3600',
    'dhcp-range=2001:db8:ac10:fe01::1:10,2001:db8:ac10:fe01::1:ff,slaac,64,3600',
  ])
  t.same(lines(r.conf, /^listen-address=/), ['listen-address=192.168.122.1', 'listen-address=192.168.123.1', 'listen-address=2001:db8:ac10:fd01::1', 'listen-address=2001:db8:ac10:fe01::1'])
  t.same(lines(r.conf, /^dhcp-option=tag:/), ['dhcp-option=tag:extra0,option:router,192.168.123.1', 'dhcp-option=tag:extra0,option:dns-server,192.168.123.1'])
  t.match(r.hostsFile, /^id:00:03:00:01:00:16:3e:11:22:33,\[2001:db8:ac10:fd01::1:22\],peter\.xyz,7200$/m, 'DHCPv6 reservation with its lease time')
})

t.test('IPv6-only: advertisements and DHCPv6, no IPv4 line', async (t) => {
  const r = renderConfig({ network: 'v6', interface: 'br6', ipv6: { hostAddress: 'fd00:6::1', prefix: 'fd00:6::/64', router: true, dhcp: { range: ['fd00:6::100', 'fd00:6::1ff'] } }, dns: {} }, paths)
  golden(t, 'ipv6-only.conf', r.conf)
  t.same(lines(r.conf, /^listen-address=/), ['listen-address=fd00:6::1'])
  t.notMatch(r.conf, /option:router|\d+\.\d+\.\d+\.\d+/)
})

t.test('the network spec plans it all', async (t) => {
  const spec = validateSpec({
    name: 'lv',
    mode: 'nat',
    ipv4: {
      address: '192.168.122.1/24',
      dhcp: { ranges: [{ start: '192.168.122.2', end: '192.168.122.50' }] },
      extra: [{ address: '10.24.10.1/24', dhcp: { range: ['10.24.10.100', '10.24.10.200'] } }],
    },
    ipv6: { address: 'fd00:1::1/64', extra: [{ address: 'fd00:2::1/64' }] },
    dns: { srv: [{ service: 'ldap', protocol: 'tcp', target: 'ldap.example.com', port: 389 }], txt: [{ name: 'ex', value: 'v' }], forwarders: [{ domain: 'corp.test', address: '192.0.2.53' }] },
  })
  const plan = planFor(spec)
  t.same('addresses' in plan ? plan.addresses : [], ['192.168.122.1/24', 'fd00:1::1/64', '10.24.10.1/24', 'fd00:2::1/64'], 'every address goes on the bridge')
  t.same(firewallOf(plan)?.extraSubnets, ['10.24.10.0/24', 'fd00:2::/64'], 'the extra subnets are in the rules')
  const d = dnsmasqOf(plan)
  t.equal(d?.extra?.[0]?.subnet, '10.24.10.0/24')
  t.same(d?.ipv6?.extra?.map((e) => e.prefix), ['fd00:2::/64'])
  t.ok(d && renderConfig(d, paths))
  const v6only = planFor(validateSpec({ name: 'v6', mode: 'nat', ipv6: { address: 'fd00:6::1/64' } }))
  t.equal(firewallOf(v6only)?.mode, 'routed', 'IPv6-only nat without nat66 is routed')
  t.equal(dnsmasqOf(v6only)?.hostAddress, undefined)
  t.ok(dnsmasqOf(v6only)?.ipv6, 'dnsmasq runs for the advertisements')
  const v6nat = planFor(validateSpec({ name: 'v6', mode: 'nat', ipv6: { address: 'fd00:6::1/64', nat66: true } }))
  t.equal(firewallOf(v6nat)?.mode, 'nat')
})

type Bad = [what: string, spec: unknown, field: string]
const n = (ipv4: object, more: object = {}) => ({ name: 'n', mode: 'nat', ipv4: { address: '10.0.0.1/24', ...ipv4 }, ...more })
const badSpecs: Bad[] = [
  ['range and ranges', n({ dhcp: { range: ['10.0.0.10', '10.0.0.20'], ranges: [{ start: '10.0.0.30', end: '10.0.0.40' }] } }), 'ipv4.dhcp.ranges'],
  ['a range outside the subnet', n({ dhcp: { ranges: [{ start: '10.0.0.10', end: '10.0.1.20' }] } }), 'ipv4.dhcp.ranges[0].end'],
  ['ranges overlapping', n({ dhcp: { ranges: [{ start: '10.0.0.10', end: '10.0.0.20' }, { start: '10.0.0.15', end: '10.0.0.30' }] } }), 'ipv4.dhcp.ranges[1]'],
  ['a range holding the host address', n({ dhcp: { ranges: [{ start: '10.0.0.10', end: '10.0.0.20' }] }, address: '10.0.0.15/24' }), 'ipv4.dhcp.ranges[0]'],
  ['a range backwards', n({ dhcp: { ranges: [{ start: '10.0.0.30', end: '10.0.0.20' }] } }), 'ipv4.dhcp.ranges[0]'],
  ['reservations-only without hosts', n({ dhcp: {} }), 'ipv4.dhcp.hosts'],
  ['reservations-only with no hosts', n({ dhcp: { hosts: [] } }), 'ipv4.dhcp.hosts'],
  ['a lease time below dnsmasq minimum', n({ dhcp: { ranges: [{ start: '10.0.0.10', end: '10.0.0.20', leaseTime: 60 }] } }), 'ipv4.dhcp.ranges[0].leaseTime'],
  ['extra subnet overlapping the first', n({ extra: [{ address: '10.0.0.129/25' }] }), 'ipv4.extra[0].address'],
  ['extra subnets overlapping each other', n({ extra: [{ address: '10.1.0.1/16' }, { address: '10.1.2.1/24' }] }), 'ipv4.extra[1].address'],
  ['extra DHCP range outside its subnet', n({ extra: [{ address: '10.1.0.1/24', dhcp: { range: ['10.0.0.10', '10.0.0.20'] } }] }), 'ipv4.extra[0].dhcp.range[0]'],
  ['extra reservation outside its subnet', n({ extra: [{ address: '10.1.0.1/24', dhcp: { hosts: [{ mac: '52:54:00:00:00:01', ip: '10.0.0.5' }] } }] }), 'ipv4.extra[0].dhcp.hosts[0].ip'],
  ['extra subnet on a network address', n({ extra: [{ address: '10.1.0.0/24' }] }), 'ipv4.extra[0].address'],
  ['extra ipv6 prefix not a /64 with dnsmasq', n({ dhcp: { range: ['10.0.0.10', '10.0.0.20'] } }, { ipv6: { address: 'fd00::1/64', extra: [{ address: 'fd01::1/48' }] } }), 'ipv6.extra[0].address'],
  ['extra ipv6 overlapping', n({}, { ipv6: { address: 'fd00::1/64', extra: [{ address: 'fd00::2/64' }] } }), 'ipv6.extra[0].address'],
  ['DHCPv6 reservations-only without hosts', n({}, { ipv6: { address: 'fd00::1/64', dhcp: {} } }), 'ipv6.dhcp.hosts'],
  ['DHCPv6 host lease time too short', n({}, { ipv6: { address: 'fd00::1/64', dhcp: { hosts: [{ id: '00:01:02:03', ip: 'fd00::5', leaseTime: 10 }] } } }), 'ipv6.dhcp.hosts[0].leaseTime'],
  ['DHCPv6 ranges overlapping', n({}, { ipv6: { address: 'fd00::1/64', dhcp: { ranges: [{ start: 'fd00::10', end: 'fd00::20' }, { start: 'fd00::20', end: 'fd00::30' }] } } }), 'ipv6.dhcp.ranges[1]'],
  ['a dotted reservation name ending in a number', n({ dhcp: { hosts: [{ mac: '52:54:00:00:00:01', ip: '10.0.0.5', name: 'a.b.5' }] } }), 'ipv4.dhcp.hosts[0].name'],
  ['a reservation name that is a lease time', n({ dhcp: { hosts: [{ mac: '52:54:00:00:00:01', ip: '10.0.0.5', name: 'infinite' }] } }), 'ipv4.dhcp.hosts[0].name'],
  ['a reservation name with a comma', n({ dhcp: { hosts: [{ mac: '52:54:00:00:00:01', ip: '10.0.0.5', name: 'a,b' }] } }), 'ipv4.dhcp.hosts[0].name'],
  ['an SRV service with an underscore', n({}, { dns: { srv: [{ service: '_ldap', protocol: 'tcp' }] } }), 'dns.srv[0].service'],
  ['an SRV protocol other than tcp/udp', n({}, { dns: { srv: [{ service: 'ldap', protocol: 'sctp' }] } }), 'dns.srv[0].protocol'],
  ['an SRV port without a target', n({}, { dns: { srv: [{ service: 'ldap', protocol: 'tcp', port: 389 }] } }), 'dns.srv[0].port'],
  ['an SRV weight without a priority', n({}, { dns: { srv: [{ service: 'ldap', protocol: 'tcp', target: 'a.b', port: 389, weight: 5 }] } }), 'dns.srv[0].weight'],
  ['an SRV port past 65535', n({}, { dns: { srv: [{ service: 'ldap', protocol: 'tcp', target: 'a.b', port: 70000 }] } }), 'dns.srv[0].port'],
  ['a TXT name with a comma', n({}, { dns: { txt: [{ name: 'a,b', value: 'x' }] } }), 'dns.txt[0].name'],
  ['a TXT value too long', n({}, { dns: { txt: [{ name: 'a', value: 'x'.repeat(256) }] } }), 'dns.txt[0].value'],
  ['a forwarder with neither address nor domain', n({}, { dns: { forwarders: [{}] } }), 'dns.forwarders[0]'],
  ['a forwarder domain with a slash', n({}, { dns: { forwarders: [{ domain: 'a/b', address: '192.0.2.1' }] } }), 'dns.forwarders[0]'],
  ['localOnly not a boolean', n({}, { dns: { localOnly: 'yes' } }), 'dns.localOnly'],
  ['nat with neither ipv4 nor ipv6', { name: 'n', mode: 'nat' }, 'ipv4'],
  ['routed with neither ipv4 nor ipv6', { name: 'n', mode: 'routed' }, 'ipv4'],
  ['IPv6-only nat with snat', { name: 'n', mode: 'nat', ipv6: { address: 'fd00::1/64' }, snat: '192.0.2.1' }, 'snat'],
  ['IPv6-only nat with forwards, no nat66', { name: 'n', mode: 'nat', ipv6: { address: 'fd00::1/64' }, forwards: [{ proto: 'tcp', hostPort: 80, guest: 'fd00::5' }] }, 'forwards'],
  ['IPv6-only nat with an IPv4 forward', { name: 'n', mode: 'nat', ipv6: { address: 'fd00::1/64', nat66: true }, forwards: [{ proto: 'tcp', hostPort: 80, guest: '10.0.0.5' }] }, 'forwards[0].guest'],
  ['isolated extra without a first address', { name: 'n', mode: 'isolated', ipv4: { extra: [{ address: '10.1.0.1/24' }] } }, 'ipv4.extra'],
]

t.test(`${badSpecs.length} bad specs of the libvirt additions are refused naming the field`, async (t) => {
  for (const [what, spec, field] of badSpecs) {
    try {
      validateSpec(spec)
      t.fail(`${what}: accepted`)
    } catch (err) {
      t.type(err, SpecError, what)
      t.equal((err as SpecError).field, field, `${what}: field (${(err as SpecError).message})`)
    }
  }
})

t.test('good specs of the libvirt additions pass', async (t) => {
  t.ok(validateSpec({ name: 'r', mode: 'routed', ipv6: { address: 'fd00::1/64', dhcp: { range: ['fd00::10', 'fd00::20'] } } }), 'IPv6-only routed')
  t.ok(validateSpec({ name: 'o', mode: 'open', ipv6: { address: 'fd00::1/64' } }), 'IPv6-only open')
  t.ok(validateSpec({ name: 'i', mode: 'isolated', ipv6: { address: 'fd00::1/64', dhcp: { hosts: [{ mac: '52:54:00:00:00:01', ip: 'fd00::5', leaseTime: 7200 }] } } }), 'IPv6-only isolated, reservations only')
  t.ok(validateSpec(n({ dhcp: { hosts: [{ mac: '52:54:00:00:00:01', ip: '10.0.0.5', name: 'paul.example.com' }] } })), 'reservations only, dotted name')
  t.ok(validateSpec(n({}, { dns: { domain: 'x.test', localOnly: false, forwarders: ['192.0.2.1', { domain: 'a.test' }, { address: '192.0.2.2' }] } })), 'forwarder forms')
})

t.test('a reservation added at runtime goes to the DHCP of the subnet holding its address, and comes out again', async (t) => {
  const spec = validateSpec(n({ dhcp: { range: ['10.0.0.10', '10.0.0.20'] }, extra: [{ address: '10.1.0.1/24', dhcp: { range: ['10.1.0.10', '10.1.0.20'] } }] }))
  const [added] = addReservationEdit(spec, emptyRuntime(), { mac: '52:54:00:00:00:09', ip: '10.1.0.9' })
  t.ok(validateSpec(added), 'the edited spec is valid')
  const v4 = added.mode === 'nat' ? added.ipv4 : undefined
  t.same(v4?.extra?.[0]?.dhcp?.hosts, [{ mac: '52:54:00:00:00:09', ip: '10.1.0.9' }], 'in ipv4.extra[0].dhcp.hosts')
  t.same(v4?.dhcp?.hosts, [], 'not in the first subnet')
  const [removed] = removeReservationEdit(added, emptyRuntime(), '52:54:00:00:00:09')
  t.same(removed.mode === 'nat' ? removed.ipv4?.extra?.[0]?.dhcp?.hosts : undefined, [], 'removed by MAC')
})

t.test("an IPv6-only dnsmasq is ready when its IPv6 DNS sockets are bound (/proc/net/udp6, tcp6)", async (t) => {
  const head = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n'
  const udp6 = `${head}  0: 060000FD000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 0\n`
  t.same([...parseSocketTable(udp6, 'udp')], [['4242', { proto: 'udp', address: 'fd00:6::1', port: 53 }]], 'the word-wise little-endian address decoded')
  const want = expectedSockets({ hostAddress6: 'fd00:0006:0::1', dhcp: false, dns: true })
  t.same(want, [{ proto: 'udp', address: 'fd00:6::1', port: 53 }, { proto: 'tcp', address: 'fd00:6::1', port: 53 }])
  t.same(missingSockets([{ proto: 'udp', address: 'fd00:6::1', port: 53 }], want), [{ proto: 'tcp', address: 'fd00:6::1', port: 53 }])
})
