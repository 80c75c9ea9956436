/**
 * Which edits Network.update applies as their own steps (converge-edits.ts onlyEdits): those that change
 * only kvmnet's rules and dnsmasq's configuration. Anything else the plan holds — an address, a port, a
 * sysctl (a network's first forward needs route_localnet), what the other firewalls are told — takes the
 * full converge.
 */
import t from 'tap'
import { kindOf, validateSpec, type NetworkSpec } from '../../src/network/index.js'
import { onlyEdits } from '../../src/network/converge-edits.js'

const base = {
  name: 'edits',
  mode: 'nat',
  ipv4: { address: '10.217.0.1/24', dhcp: { range: ['10.217.0.100', '10.217.0.150'] } },
  ports: [{ name: 'edits-p0' }],
  forwards: [{ proto: 'tcp', hostPort: 2222, guest: '10.217.0.105', guestPort: 22 }],
}
const planned = (extra: Record<string, unknown>) => kindOf(validateSpec({ ...base, ...extra }) as NetworkSpec).plan('/run/kvmnet')
const was = planned({})

t.test('reservations, DNS records and more forwards: the edit alone', async (t) => {
  t.ok(onlyEdits(was, planned({ ipv4: { ...base.ipv4, dhcp: { ...base.ipv4.dhcp, hosts: [{ mac: '52:54:00:00:00:01', ip: '10.217.0.110', name: 'one' }] } } })), 'a reservation')
  t.ok(onlyEdits(was, planned({ forwards: [...base.forwards, { proto: 'udp', hostPort: 5353, guest: '10.217.0.110' }] })), 'another forward')
  t.ok(onlyEdits(was, planned({ dns: { hosts: [{ name: 'db', ip: '10.217.0.120' }] } })), 'a DNS record')
  t.ok(onlyEdits(was, was), 'nothing at all')
})

t.test('anything else: the full converge', async (t) => {
  t.notOk(onlyEdits(planned({ forwards: [] }), was), "a network's first forward (route_localnet)")
  t.notOk(onlyEdits(was, planned({ ipv4: { ...base.ipv4, address: '10.217.0.2/24' } })), 'a host address')
  t.notOk(onlyEdits(was, planned({ ports: [{ name: 'edits-p0' }, { name: 'edits-p1' }] })), 'a port')
  t.notOk(onlyEdits(was, planned({ dns: { enabled: false } })), 'DNS off: the other firewalls let port 53 through no longer')
  t.notOk(onlyEdits(was, planned({ mtu: 1400 })), 'the MTU')
  t.notOk(onlyEdits(was, kindOf(validateSpec({ name: base.name, mode: 'routed', ipv4: base.ipv4, ports: base.ports }) as NetworkSpec).plan('/run/kvmnet')), 'another kind')
})
