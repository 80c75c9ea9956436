import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { validateSpec } from '../../src/network/validate.js'
import { planFor } from '../../src/network/kinds/index.js'
import { dnsmasqOf, firewallOf } from '../../src/network/kinds/index.js'
import { badSpecs as bad, nat, with_ } from '../helpers/bad-specs.js'
import { bridgeMac, defaultBridgeName, defaultLinkGroup, defaultMac, parseAlias, linkAlias, tapHostMac } from '../../src/network/names.js'

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
