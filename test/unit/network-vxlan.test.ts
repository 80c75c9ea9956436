/**
 * The vxlan section of a spec: shapes and relations refused with the field as written (before anything is
 * touched), the plan it makes (device name, peers, family, overhead), the MTU the underlay decides for the
 * bridge and for what dnsmasq tells guests, runtime peers, and what `plan` shows.
 */
import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { validateSpec } from '../../src/network/validate.js'
import { planFor } from '../../src/network/kinds/index.js'
import { dnsmasqOf, linkNamesOf, ownAliases, vxlanOf, withMtu } from '../../src/network/kinds/index.js'
import { vxlanChanges, vxlanName } from '../../src/network/vxlan.js'
import { droppedRuntime, keepRuntime } from '../../src/network/runtime.js'
import { dnsmasqPaths, renderConfig } from '../../src/dnsmasq/index.js'
import { parseAlias } from '../../src/network/names.js'

const gateway = {
  name: 'seg',
  mode: 'nat',
  ipv4: { address: '10.77.0.1/24', dhcp: { range: ['10.77.0.100', '10.77.0.200'] } },
  vxlan: { vni: 4242, local: '198.51.100.1', peers: ['198.51.100.2', '198.51.100.3'] },
}

function fieldOf(spec: unknown): string | undefined {
  try {
    validateSpec(spec)
    return undefined
  } catch (err) {
    if (!(err instanceof SpecError)) throw err
    return `${err.field}: ${err.reason}`
  }
}

t.test('every kind with its own bridge takes a vxlan; macvtap has none', async (t) => {
  const vxlan = { vni: 7, peers: ['198.51.100.2'] }
  for (const spec of [
    gateway,
    { name: 'r', mode: 'routed', ipv4: { address: '10.1.0.1/24' }, vxlan },
    { name: 'o', mode: 'open', ipv4: { address: '10.2.0.1/24' }, vxlan },
    { name: 'i', mode: 'isolated', vxlan },
    { name: 'v', mode: 'very-isolated', vxlan: { vni: 7, underlay: 'eth0', group: '239.1.1.7' } },
    { name: 'b', mode: 'bridge', interface: 'eth0', vxlan },
  ])
    t.ok(validateSpec(spec), spec.mode)
  t.match(fieldOf({ name: 'm', mode: 'macvtap', interface: 'eth0', vxlan }), /^vxlan: /, 'macvtap: an unknown field')
})

t.test('bad input: a SpecError naming the field as written', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['vni 0', { vni: 0 }, /^vxlan\.vni: /],
    ['vni past 24 bits', { vni: 16777216 }, /^vxlan\.vni: /],
    ['vni not an integer', { vni: 1.5 }, /^vxlan\.vni: /],
    ['a peer that is no address', { vni: 1, peers: ['198.51.100.2', 'host-b'] }, /^vxlan\.peers\[1\]: /],
    ['mixed families', { vni: 1, peers: ['198.51.100.2', '2001:db8::3'] }, /^vxlan\.peers\[1\]: is IPv6, vxlan\.peers\[0\] is IPv4/],
    ['peers of the other family than local', { vni: 1, local: '2001:db8::1', peers: ['198.51.100.2'] }, /^vxlan\.peers\[0\]: is IPv4, vxlan\.local is IPv6/],
    ['a multicast peer', { vni: 1, peers: ['239.1.1.1'] }, /^vxlan\.peers\[0\]: .*not a unicast/],
    ['a duplicate peer', { vni: 1, peers: ['2001:db8::2', '2001:DB8:0::2'] }, /^vxlan\.peers\[1\]: duplicates vxlan\.peers\[0\]/],
    ['a peer that is local', { vni: 1, local: '198.51.100.1', peers: ['198.51.100.1'] }, /^vxlan\.peers\[0\]: is vxlan\.local/],
    ['a unicast group', { vni: 1, underlay: 'eth0', group: '198.51.100.9' }, /^vxlan\.group: .*not a multicast/],
    ['a group without its underlay', { vni: 1, group: '239.1.1.1' }, /^vxlan\.underlay: /],
    ['group and peers', { vni: 1, underlay: 'eth0', group: '239.1.1.1', peers: ['198.51.100.2'] }, /^vxlan\.group: .*one of group and peers/],
    ['a group of the other family', { vni: 1, local: '198.51.100.1', underlay: 'eth0', group: 'ff05::7' }, /^vxlan\.group: is IPv6/],
    ['an underlay that is no ifname', { vni: 1, underlay: 'eth/0' }, /^vxlan\.underlay: /],
    ['the bridge as underlay', { vni: 1, underlay: 'kvbr-seg' }, /^vxlan\.underlay: is one of the network's own/],
    ['port 0', { vni: 1, port: 0 }, /^vxlan\.port: /],
    ['local unspecified', { vni: 1, local: '0.0.0.0' }, /^vxlan\.local: /],
    ['an unknown field', { vni: 1, remote: '198.51.100.2' }, /^vxlan\.remote: /],
  ]
  for (const [what, vxlan, want] of cases) t.match(fieldOf({ ...gateway, vxlan }), want, what)
  t.match(fieldOf({ ...gateway, ports: [{ name: 'kvvx-seg' }] }), /^ports\[0\]\.name: is the name of the network's vxlan device/)
  t.match(fieldOf({ ...gateway, bridge: 'kvvx-seg' }), /^bridge: /)
})

t.test('plan: the device, canonical peers, family and overhead, tagged as the network', async (t) => {
  const plan = planFor(validateSpec(gateway), '/run/kvmnet-test/x')
  t.same(vxlanOf(plan), {
    name: 'kvvx-seg',
    vni: 4242,
    port: 4789,
    local: '198.51.100.1',
    underlay: undefined,
    peers: ['198.51.100.2', '198.51.100.3'],
    managePeers: true,
    group: undefined,
    family: 4,
    overhead: 50,
  })
  t.ok(linkNamesOf(plan).has('kvvx-seg'), 'a half-made vxlan is recognised as the network\'s')
  t.ok(ownAliases(plan).includes(plan.alias.vxlan), 'down and the group check accept its alias')
  t.match(parseAlias(plan.alias.vxlan), { network: 'seg', role: 'vxlan' })
  const v6 = vxlanOf(planFor(validateSpec({ ...gateway, vxlan: { vni: 1, peers: ['2001:DB8::2', '2001:db8:0:0::3'], port: 8472 } })))
  t.match(v6, { family: 6, overhead: 70, port: 8472, peers: ['2001:db8::2', '2001:db8::3'] })
  t.equal(vxlanName('a-rather-long-network'), 'kvvx-a-rat' + vxlanName('a-rather-long-network').slice(10), 'cut like the bridge')
  t.equal(vxlanName('a-rather-long-network').length, 15)
  t.equal(vxlanOf(planFor(validateSpec({ name: 'plain', mode: 'very-isolated' }))), undefined)
})

t.test('MTU: the underlay less 50 for the bridge and in the DHCP option, unless the spec sets one', async (t) => {
  const plan = planFor(validateSpec(gateway))
  t.equal(plan.mtu, undefined, 'the spec alone does not know the underlay')
  const resolved = withMtu(plan, 1500 - 50)
  t.equal(resolved.mtu, 1450)
  const d = dnsmasqOf(resolved)
  t.equal(d?.dhcp?.mtu, 1450)
  const conf = renderConfig({ ...d!, stateDir: '/run/kvmnet/x/seg/dnsmasq' }, dnsmasqPaths('/run/kvmnet/x/seg/dnsmasq')).conf
  t.match(conf, /^dhcp-option=option:mtu,1450$/m, 'dnsmasq hands guests the reduced MTU')
  const withV6 = withMtu(planFor(validateSpec({ ...gateway, ipv6: { address: 'fd00:77::1/64' } })), 1450)
  t.equal(dnsmasqOf(withV6)?.ipv6?.mtu, 1450, 'router advertisements carry it too')
  t.equal(dnsmasqOf(withMtu(planFor(validateSpec({ ...gateway, ipv6: { address: 'fd00:77::1/64' } })), 1200))?.ipv6?.mtu, undefined, 'not below IPv6\'s 1280')
  t.equal(planFor(validateSpec({ ...gateway, mtu: 9000 })).mtu, 9000, "the spec's mtu wins")
})

t.test('runtime peers: a later up without them is a visible difference', async (t) => {
  const runtime = { ports: [], forwards: [], reservations: [], peers: ['198.51.100.9'] }
  t.same(droppedRuntime(runtime, validateSpec(gateway)), ['peer 198.51.100.9'])
  t.same(droppedRuntime(runtime, validateSpec({ ...gateway, vxlan: { ...gateway.vxlan, peers: [...gateway.vxlan.peers, '198.51.100.9'] } })), [])
  t.same(keepRuntime(runtime, validateSpec(gateway)).peers, [])
  t.same(droppedRuntime({ ports: [], forwards: [], reservations: [] }, validateSpec(gateway)), [], 'a state from before vxlan (no peers key)')
})

t.test('plan output: the vxlan and its peers, created, changed, removed', async (t) => {
  const a = vxlanOf(planFor(validateSpec(gateway)))
  t.same(vxlanChanges(undefined, a, 'kvbr-seg', undefined), [
    { action: 'create', what: 'vxlan kvvx-seg vni 4242 port 4789 local 198.51.100.1 on bridge kvbr-seg (mtu of the underlay - 50)' },
    { action: 'create', what: 'vxlan peer 198.51.100.2' },
    { action: 'create', what: 'vxlan peer 198.51.100.3' },
  ])
  const b = vxlanOf(planFor(validateSpec({ ...gateway, vxlan: { vni: 4242, local: '198.51.100.1', peers: ['198.51.100.3', '198.51.100.4'] } })))
  t.same(vxlanChanges(a, b, 'kvbr-seg', undefined), [
    { action: 'create', what: 'vxlan peer 198.51.100.4' },
    { action: 'remove', what: 'vxlan peer 198.51.100.2' },
  ])
  const c = vxlanOf(planFor(validateSpec({ ...gateway, vxlan: { vni: 4243, local: '198.51.100.1', peers: ['198.51.100.3', '198.51.100.4'] } })))
  t.match(vxlanChanges(b, c, 'kvbr-seg', undefined), [{ action: 'change', what: /vni 4242 .* -> vni 4243 .*a new device/ }])
  t.same(vxlanChanges(c, undefined, 'kvbr-seg', undefined), [{ action: 'remove', what: 'vxlan kvvx-seg' }])
  t.same(vxlanChanges(c, c, 'kvbr-seg', undefined), [])
  const unmanaged = vxlanOf(planFor(validateSpec({ ...gateway, vxlan: { vni: 4243, local: '198.51.100.1' } })))
  t.equal(unmanaged?.managePeers, false, 'no peers field: the flooding entries are left to someone else')
  t.same(vxlanChanges(c, unmanaged, 'kvbr-seg', undefined), [], 'so plan shows no peer going')
  t.equal(vxlanOf(planFor(validateSpec({ ...gateway, vxlan: { vni: 1, peers: [] } })))?.managePeers, true, 'peers: [] means none')
})
