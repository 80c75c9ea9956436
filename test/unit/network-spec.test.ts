import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { validateSpec } from '../../src/network/validate.js'
import { planFor } from '../../src/network/kinds/index.js'
import { dnsmasqOf, firewallOf } from '../../src/network/kinds/index.js'
import { bridgeMac, defaultBridgeName, defaultLinkGroup, defaultMac, parseAlias, linkAlias, tapHostMac } from '../../src/network/names.js'

const nat = {
  name: 'lab',
  mode: 'nat',
  ipv4: {
    address: '192.168.150.1/24',
    dhcp: { range: ['192.168.150.100', '192.168.150.200'], hosts: [{ mac: '52:54:00:00:00:01', ip: '192.168.150.10', name: 'vm1' }] },
  },
  dns: { domain: 'lab.test', hosts: [{ name: 'gw', ip: '192.168.150.1' }] },
  forwards: [{ proto: 'tcp', hostPort: 8080, guest: '192.168.150.10', guestPort: 80 }],
  ports: [{ name: 'vm1-tap0' }],
}

function with_(patch: (s: any) => void): unknown {
  const s = structuredClone(nat) as any
  patch(s)
  return s
}

t.test('valid specs of every mode pass', async (t) => {
  t.ok(validateSpec(nat))
  t.ok(validateSpec({ name: 'iso', mode: 'isolated', ipv4: { address: '10.1.0.1/24', dhcp: { range: ['10.1.0.10', '10.1.0.20'] } } }))
  t.ok(validateSpec({ name: 'iso2', mode: 'isolated' }))
  t.ok(validateSpec({ name: 'vi', mode: 'very-isolated', ports: [{ name: 'p0' }] }))
  t.ok(validateSpec({ name: 'br', mode: 'bridge', interface: 'eth0', ports: [{ name: 'p0' }] }))
  t.ok(validateSpec({ name: 'mv', mode: 'macvtap', interface: 'eth0', macvtapMode: 'vepa', ports: [{ name: 'mv0' }] }))
  t.ok(validateSpec({ name: 'mvh', mode: 'macvtap', interface: 'eth0', hostAccess: true, ipv4: { address: '198.51.100.3/24' } }))
  t.ok(validateSpec({ name: 'rt', mode: 'routed', ipv4: { address: '192.0.2.1/24', dhcp: { range: ['192.0.2.100', '192.0.2.200'] } }, uplink: 'eth0' }))
  t.ok(validateSpec({ name: 'op', mode: 'open', ipv4: { address: '192.0.2.1/24' }, dns: { domain: 'op.test' } }))
  t.ok(validateSpec({ name: 'n6', mode: 'nat', ipv4: { address: '10.9.0.1/24' }, ipv6: { address: 'fd00:9::1/64', nat66: true } }))
})

const bad: [string, unknown, string][] = [
  ['not an object', 'nat', ''],
  ['unknown field', with_((s) => (s.colour = 'red')), 'colour'],
  ['unknown mode', with_((s) => (s.mode = 'natt')), 'mode'],
  ['typo in a field name', with_((s) => (s.ipv4.adress = s.ipv4.address)), 'ipv4.adress'],
  ['port name with +', with_((s) => (s.ports[0].name = 'vm+0')), 'ports[0].name'],
  ['port name with :', with_((s) => (s.ports[0].name = 'vm:0')), 'ports[0].name'],
  ['bridge name with @', with_((s) => (s.bridge = 'br@1')), 'bridge'],
  ['bridge name ..', with_((s) => (s.bridge = '..')), 'bridge'],
  ['all-zero port MAC', with_((s) => (s.ports[0].mac = '00:00:00:00:00:00')), 'ports[0].mac'],
  ['all-zero reservation MAC', with_((s) => (s.ipv4.dhcp.hosts[0].mac = '00:00:00:00:00:00')), 'ipv4.dhcp.hosts[0].mac'],
  ['broadcast reservation MAC', with_((s) => (s.ipv4.dhcp.hosts[0].mac = 'ff:ff:ff:ff:ff:ff')), 'ipv4.dhcp.hosts[0].mac'],
  ['range around the host address', with_((s) => (s.ipv4.dhcp.range = ['192.168.150.0', '192.168.150.20'])), 'ipv4.dhcp.range[0]'],
  ['range including the host address', with_((s) => (s.ipv4.address = '192.168.150.150/24')), 'ipv4.dhcp.range'],
  ['loopback host address', with_((s) => (s.ipv4.address = '127.0.0.2/8')), 'ipv4.address'],
  ['multicast host address', with_((s) => (s.ipv4.address = '224.0.0.5/24')), 'ipv4.address'],
  ['unspecified host address', with_((s) => (s.ipv4.address = '0.0.0.1/8')), 'ipv4.address'],
  ['loopback IPv6 host address', with_((s) => (s.ipv6 = { address: '::1/64' })), 'ipv6.address'],
  ['reservation named ignore', with_((s) => (s.ipv4.dhcp.hosts[0].name = 'ignore')), 'ipv4.dhcp.hosts[0].name'],
  ['reservation named like a lease time', with_((s) => (s.ipv4.dhcp.hosts[0].name = '5m')), 'ipv4.dhcp.hosts[0].name'],
  ['reservation named infinite', with_((s) => (s.ipv4.dhcp.hosts[0].name = 'infinite')), 'ipv4.dhcp.hosts[0].name'],
  ['reservation named by a number', with_((s) => (s.ipv4.dhcp.hosts[0].name = '1001')), 'ipv4.dhcp.hosts[0].name'],
  ['reservation named by an address', with_((s) => (s.ipv4.dhcp.hosts[0].name = '10.77.0.11')), 'ipv4.dhcp.hosts[0].name'],
  ['snat to 0.0.0.0', with_((s) => (s.snat = '0.0.0.0')), 'snat'],
  ['snat to multicast', with_((s) => (s.snat = '239.1.1.1')), 'snat'],
  ['uplink is the bridge', with_((s) => ((s.bridge = 'br-lab'), (s.uplink = 'br-lab'))), 'uplink'],
  ['more ports than a bridge takes', with_((s) => (s.ports = Array.from({ length: 1024 }, (_, i) => ({ name: `p${i}` })))), 'ports'],
  ['forwards on a routed network', { name: 'rt', mode: 'routed', ipv4: { address: '192.0.2.1/24' }, forwards: [] }, 'forwards'],
  ['snat on an open network', { name: 'op', mode: 'open', ipv4: { address: '192.0.2.1/24' }, snat: '192.0.2.9' }, 'snat'],
  ['routed without an address', { name: 'rt', mode: 'routed' }, 'ipv4'],
  ['uplink on an open network', { name: 'op', mode: 'open', ipv4: { address: '192.0.2.1/24' }, uplink: 'eth0' }, 'uplink'],
  ['nat66 on a routed network', { name: 'rt', mode: 'routed', ipv4: { address: '192.0.2.1/24' }, ipv6: { address: 'fd00::1/64', nat66: true } }, 'ipv6.nat66'],
  ['tap port options on a macvtap network', { name: 'mv', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'm0', queues: 2 }] }, 'ports[0].queues'],
  ['a forward capturing the network DNS', with_((s) => s.forwards.push({ proto: 'udp', hostPort: 53, guest: '192.168.150.11' })), 'forwards[1].hostPort'],
  ['a forward capturing DHCP', with_((s) => s.forwards.push({ proto: 'udp', hostPort: [60, 70], guest: '192.168.150.11' })), 'forwards[1].hostPort'],
  ['a forward of DNS on the gateway address', with_((s) => s.forwards.push({ proto: 'tcp', hostPort: 53, guest: '192.168.150.11', hostAddress: '192.168.150.1' })), 'forwards[1].hostPort'],
  ['dns on an isolated network without address', { name: 'i', mode: 'isolated', dns: { domain: 'x.test' } }, 'dns'],
  ['empty name', with_((s) => (s.name = '')), 'name'],
  ['name with slash', with_((s) => (s.name = 'a/b')), 'name'],
  ['bridge name over 15 bytes', with_((s) => (s.bridge = 'a-very-long-bridge')), 'bridge'],
  ['address without prefix', with_((s) => (s.ipv4.address = '192.168.150.1')), 'ipv4.address'],
  ['address is network address', with_((s) => (s.ipv4.address = '192.168.150.0/24')), 'ipv4.address'],
  ['IPv6 in ipv4.address', with_((s) => (s.ipv4.address = 'fd00::1/64')), 'ipv4.address'],
  ['nat without address', with_((s) => delete s.ipv4), 'ipv4'],
  ['nat without ipv4.address', with_((s) => delete s.ipv4.address), 'ipv4.address'],
  ['range outside subnet', with_((s) => (s.ipv4.dhcp.range = ['192.168.151.10', '192.168.150.20'])), 'ipv4.dhcp.range[0]'],
  ['range inverted', with_((s) => (s.ipv4.dhcp.range = ['192.168.150.200', '192.168.150.100'])), 'ipv4.dhcp.range'],
  ['range contains host address', with_((s) => (s.ipv4.dhcp.range = ['192.168.150.1', '192.168.150.20'])), 'ipv4.dhcp.range[0]'],
  ['bad MAC', with_((s) => (s.ipv4.dhcp.hosts[0].mac = '52:54:00:00:00')), 'ipv4.dhcp.hosts[0].mac'],
  ['reservation outside subnet', with_((s) => (s.ipv4.dhcp.hosts[0].ip = '10.0.0.5')), 'ipv4.dhcp.hosts[0].ip'],
  ['hostname with newline', with_((s) => (s.ipv4.dhcp.hosts[0].name = 'vm1\ndhcp-range=1.2.3.4')), 'ipv4.dhcp.hosts[0].name'],
  ['hostname with comma', with_((s) => (s.ipv4.dhcp.hosts[0].name = 'a,b')), 'ipv4.dhcp.hosts[0].name'],
  [
    'duplicate reservation MAC',
    with_((s) => s.ipv4.dhcp.hosts.push({ mac: '52:54:00:00:00:01', ip: '192.168.150.11' })),
    'ipv4.dhcp.hosts[1].mac',
  ],
  ['lease time too short', with_((s) => (s.ipv4.dhcp.leaseTime = 10)), 'ipv4.dhcp.leaseTime'],
  ['dns domain with space', with_((s) => (s.dns.domain = 'lab test')), 'dns.domain'],
  ['dns host with =', with_((s) => (s.dns.hosts[0].name = 'a=b')), 'dns.hosts[0].name'],
  ['forwarder not an IP', with_((s) => (s.dns.forwarders = ['dns.example'])), 'dns.forwarders[0]'],
  ['port 0', with_((s) => (s.forwards[0].hostPort = 0)), 'forwards[0].hostPort'],
  ['port 65536', with_((s) => (s.forwards[0].guestPort = 65536)), 'forwards[0].guestPort'],
  ['port range inverted', with_((s) => (s.forwards[0].hostPort = [9000, 8000])), 'forwards[0].hostPort'],
  ['forward to guest outside subnet', with_((s) => (s.forwards[0].guest = '10.9.9.9')), 'forwards[0].guest'],
  ['forward proto sctp', with_((s) => (s.forwards[0].proto = 'sctp')), 'forwards[0].proto'],
  [
    'overlapping forwards',
    with_((s) => s.forwards.push({ proto: 'tcp', hostPort: [8000, 8100], guest: '192.168.150.11' })),
    'forwards[1].hostPort',
  ],
  ['port name over 15 bytes', with_((s) => (s.ports[0].name = 'this-name-is-too-long')), 'ports[0].name'],
  ['duplicate port names', with_((s) => s.ports.push({ name: 'vm1-tap0' })), 'ports[1].name'],
  ['multicast port MAC', with_((s) => (s.ports[0].mac = '01:00:5e:00:00:01')), 'ports[0].mac'],
  ['queues 0', with_((s) => (s.ports[0].queues = 0)), 'ports[0].queues'],
  ['macvtap port on a nat network', with_((s) => (s.ports[0].kind = 'macvtap')), 'ports[0].kind'],
  ['mtu out of range', with_((s) => (s.mtu = 20)), 'mtu'],
  ['snat not an address', with_((s) => (s.snat = '1.2.3')), 'snat'],
  ['very-isolated with address', { name: 'vi', mode: 'very-isolated', ipv4: { address: '10.0.0.1/24' } }, 'ipv4'],
  ['very-isolated with dhcp', { name: 'vi', mode: 'very-isolated', ipv4: { dhcp: { range: ['10.0.0.2', '10.0.0.3'] } } }, 'ipv4'],
  ['bridge without interface', { name: 'br', mode: 'bridge' }, 'interface'],
  ['macvtap without interface', { name: 'mv', mode: 'macvtap' }, 'interface'],
  ['macvtap with a bridge', { name: 'mv', mode: 'macvtap', interface: 'eth0', bridge: 'br0' }, 'bridge'],
  ['hostAccess on nat', with_((s) => (s.hostAccess = true)), 'hostAccess'],
  ['macvtapMode on a bridge network', { name: 'br', mode: 'bridge', interface: 'eth0', macvtapMode: 'vepa' }, 'macvtapMode'],
  ['snat on isolated', { name: 'i', mode: 'isolated', snat: '203.0.113.5' }, 'snat'],
  ['bridge equal to interface', { name: 'br', mode: 'bridge', interface: 'eth0', bridge: 'eth0' }, 'bridge'],
  ['owner on a macvtap port', { name: 'mv', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'm0', owner: 1 }] }, 'ports[0].owner'],
]

t.test(`${bad.length} bad specs are refused with a SpecError naming the field`, async (t) => {
  t.ok(bad.length >= 25)
  for (const [what, spec, field] of bad) {
    try {
      validateSpec(spec)
      t.fail(`${what}: accepted`)
    } catch (err) {
      t.type(err, SpecError, what)
      t.equal((err as SpecError).field, field, `${what}: field`)
    }
  }
})

t.test('a DNS forward restricted to another address or an interface is fine', async (t) => {
  t.ok(validateSpec(with_((s) => s.forwards.push({ proto: 'udp', hostPort: 53, guest: '192.168.150.11', hostAddress: '198.51.100.5' }))))
  t.ok(validateSpec(with_((s) => s.forwards.push({ proto: 'udp', hostPort: 53, guest: '192.168.150.11', inInterface: 'eth0' }))))
})

t.test('a field of another kind is named as such', async (t) => {
  try {
    validateSpec({ name: 'x', mode: 'nat', ipv4: { address: '10.0.0.1/24' }, hostAccess: true })
    t.fail('accepted')
  } catch (err) {
    t.equal((err as SpecError).field, 'hostAccess')
    t.match((err as SpecError).reason, /not a field of nat networks \(only macvtap\)/)
  }
})

t.test('plan: names, MACs and groups are stable and valid', async (t) => {
  const plan = planFor(validateSpec(nat))
  t.equal(plan.mode, 'nat')
  if (plan.mode !== 'nat') return
  t.equal(plan.bridge, 'kvbr-lab')
  t.equal(plan.subnet, '192.168.150.0/24')
  const port = plan.ports[0]
  t.equal(port?.mac, defaultMac('lab', 'vm1-tap0'), "the port's MAC is the guest's")
  t.match(port?.mac, /^52:54:00(:[0-9a-f]{2}){3}$/)
  t.equal(port?.kind === 'tap' ? port.hostMac : '', tapHostMac(port?.mac ?? ''), 'the tap itself gets another MAC')
  t.equal(tapHostMac('52:54:00:aa:bb:cc'), 'fe:54:00:aa:bb:cc')
  t.equal(plan.bridgeMac, bridgeMac('lab'))
  t.match(bridgeMac('lab'), /^02(:[0-9a-f]{2}){5}$/, 'the bridge MAC is fixed and locally administered')
  t.equal(defaultMac('lab', 'vm1-tap0'), defaultMac('lab', 'vm1-tap0'))
  t.not(defaultMac('lab', 'vm1-tap0'), defaultMac('lab', 'vm1-tap1'))
  t.not(defaultMac('lab', 'vm1-tap0', 'host-a'), defaultMac('lab', 'vm1-tap0', 'host-b'), 'two hosts, same names: different MACs')
  t.ok(defaultBridgeName('a-network-with-a-long-name').length <= 15)
  t.equal(defaultLinkGroup('lab') >>> 24, 0x4b)
  t.same(parseAlias(linkAlias('my-net', 'port', 'abcd1234')), { network: 'my-net', role: 'port', root: 'abcd1234' })
  t.same(parseAlias('kvmnet:lab:bridge'), { network: 'lab', role: 'bridge', root: undefined }, 'the form without a root tag still parses')
  t.not(planFor(validateSpec(nat), '/run/a').alias.port, planFor(validateSpec(nat), '/run/b').alias.port, 'another state root, another owner tag')
  t.equal(firewallOf(plan)?.mode, 'nat')
  t.equal(dnsmasqOf(plan)?.dhcp?.router, '192.168.150.1')
  const iso = planFor(validateSpec({ name: 'iso', mode: 'isolated', ipv4: { address: '10.1.0.1/24', dhcp: { range: ['10.1.0.10', '10.1.0.20'] } } }))
  t.equal(dnsmasqOf(iso)?.dhcp?.router, false, 'isolated networks hand out no router')
  t.same(iso.sysctls, [], 'isolated networks do not forward')
  const vi = planFor(validateSpec({ name: 'vi', mode: 'very-isolated' }))
  t.equal('noHostAddress' in vi && vi.noHostAddress, true)
  t.equal(dnsmasqOf(vi), undefined)
  const routed = planFor(validateSpec({ name: 'rt', mode: 'routed', ipv4: { address: '192.0.2.1/24' }, uplink: 'eth0' }))
  t.equal(firewallOf(routed)?.mode, 'routed')
  t.same(routed.sysctls, [{ key: 'net/ipv4/ip_forward', value: '1' }])
  const open = planFor(validateSpec({ name: 'op', mode: 'open', ipv4: { address: '192.0.2.1/24' } }))
  t.equal(firewallOf(open), undefined, 'open networks add no rules')
  t.same(open.sysctls, [{ key: 'net/ipv4/ip_forward', value: '1' }])
  const quiet = planFor(validateSpec({ name: 'q', mode: 'nat', ipv4: { address: '10.2.0.1/24' }, dns: { enabled: false } }))
  t.equal(dnsmasqOf(quiet), undefined, 'no dnsmasq when it would serve nothing')
})
