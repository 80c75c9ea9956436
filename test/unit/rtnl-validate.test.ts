/** Bad link, address and route input: a SpecError naming the field, before anything is sent. */
import t, { type Test } from 'tap'
import { SpecError } from '../../src/errors.js'
import { validateLinkChange, validateLinkSpec } from '../../src/rtnl/link-validate.js'
import { parseRouteSpec } from '../../src/rtnl/route-validate.js'
import { sysctlPath } from '../../src/rtnl/sysctl.js'
import type { LinkSpec } from '../../src/rtnl/link-types.js'

function field(t: Test, fn: () => unknown, name: string, what: string): void {
  t.throws(fn, SpecError, what)
  try {
    fn()
  } catch (err) {
    t.equal((err as SpecError).field, name, `${what}: field ${name}`)
  }
}

t.test('good specs pass', async (t) => {
  const ok: LinkSpec[] = [
    { kind: 'bridge', name: 'br0', stp: true, forwardDelay: 2, mtu: 9000, group: 5, alias: 'x', up: true },
    { kind: 'veth', name: 'v0', peer: { name: 'v1', mac: '02:00:00:00:00:01' }, master: 'br0' },
    { kind: 'veth', name: 'same', peer: { name: 'same', netns: { path: '/run/netns/x' } } },
    { kind: 'tap', name: 'a'.repeat(15), queues: 4, vnetHdr: true, owner: 1000, ownerGroup: 1000 },
    { kind: 'macvtap', name: 'mt0', parent: 3, mode: 'passthru' },
    { kind: 'vxlan', name: 'vx0', vni: 0xffffff, remote: '192.0.2.1', local: '192.0.2.2', port: 4789 },
    { kind: 'vxlan', name: 'vx1', vni: 1, multicastGroup: '239.1.1.1', parent: 'eth0' },
  ]
  for (const s of ok) t.doesNotThrow(() => validateLinkSpec(s), s.name)
})

t.test('bad specs name the field', async (t) => {
  const bad = (s: unknown): (() => void) => () => validateLinkSpec(s as LinkSpec)
  field(t, bad({ kind: 'bridge', name: 'a'.repeat(16) }), 'name', 'name over 15 bytes')
  field(t, bad({ kind: 'bridge', name: 'ü'.repeat(8) }), 'name', 'bytes, not characters')
  field(t, bad({ kind: 'bridge', name: 'a/b' }), 'name', 'slash')
  field(t, bad({ kind: 'bridge', name: '' }), 'name', 'empty')
  field(t, bad({ kind: 'wireguard', name: 'wg0' }), 'kind', 'unknown kind')
  field(t, bad({ kind: 'bridge', name: 'br0', mtu: 67 }), 'mtu', 'mtu below 68')
  field(t, bad({ kind: 'bridge', name: 'br0', mtu: 65536 }), 'mtu', 'mtu above 65535')
  field(t, bad({ kind: 'bridge', name: 'br0', mac: '02:00:00:00:00' }), 'mac', 'short MAC')
  field(t, bad({ kind: 'bridge', name: 'br0', mac: '01:00:5e:00:00:01' }), 'mac', 'multicast MAC')
  field(t, bad({ kind: 'bridge', name: 'br0', group: -1 }), 'group', 'negative group')
  field(t, bad({ kind: 'bridge', name: 'br0', stp: true, forwardDelay: 1 }), 'forwardDelay', 'STP forward delay below 2 s')
  field(t, bad({ kind: 'bridge', name: 'br0', alias: 'x'.repeat(256) }), 'alias', 'alias over 255 bytes')
  field(t, bad({ kind: 'veth', name: 'v0' }), 'peer', 'veth without peer')
  field(t, bad({ kind: 'veth', name: 'v0', peer: { name: 'v0' } }), 'peer.name', 'peer named like itself')
  field(t, bad({ kind: 'veth', name: 'v0', peer: { name: 'v1', mac: 'zz' } }), 'peer.mac', 'peer MAC')
  field(t, bad({ kind: 'tap', name: 't0', queues: 0 }), 'queues', 'zero queues')
  field(t, bad({ kind: 'macvtap', name: 'mt0' }), 'parent', 'macvtap without parent')
  field(t, bad({ kind: 'macvlan', name: 'mv0', parent: 'eth0', mode: 'bridged' }), 'mode', 'unknown macvlan mode')
  field(t, bad({ kind: 'macvlan', name: 'mv0', parent: 0 }), 'parent', 'ifindex 0')
  field(t, bad({ kind: 'vxlan', name: 'vx0', vni: 1 << 24 }), 'vni', 'VNI over 24 bits')
  field(t, bad({ kind: 'vxlan', name: 'vx0', vni: 1, remote: '239.1.1.1' }), 'remote', 'multicast remote')
  field(t, bad({ kind: 'vxlan', name: 'vx0', vni: 1, multicastGroup: '239.1.1.1' }), 'parent', 'multicast without parent')
  field(t, bad({ kind: 'vxlan', name: 'vx0', vni: 1, remote: '192.0.2.1', local: 'fd00::1' }), 'local', 'mixed families')
  field(t, bad({ kind: 'vxlan', name: 'vx0', vni: 1, port: 0 }), 'port', 'port 0')
  field(t, bad({ kind: 'veth', name: 've0', peer: { name: 've1' }, addrGenMode: 'off' }), 'addrGenMode', 'address generation mode')
  t.doesNotThrow(() => validateLinkSpec({ kind: 'veth', name: 've0', peer: { name: 've1' }, addrGenMode: 'none' }))

  try {
    validateLinkSpec({ kind: 'bridge', name: 'x'.repeat(20), mtu: 1, mac: 'no' })
  } catch (err) {
    t.same((err as SpecError).issues.map((i) => i.field), ['name', 'mtu', 'mac'], 'every problem is reported')
  }
})

t.test('link changes', async (t) => {
  t.doesNotThrow(() => validateLinkChange({ master: null, up: false, name: 'new0', group: 3 }))
  field(t, () => validateLinkChange({ mtu: 10 }), 'mtu', 'mtu')
  field(t, () => validateLinkChange({ addrGenMode: 'off' as never }), 'addrGenMode', 'addrGenMode')
  t.doesNotThrow(() => validateLinkChange({ addrGenMode: 'none' }))
  field(t, () => validateLinkChange({ name: 'x'.repeat(16) }), 'name', 'rename too long')
  field(t, () => validateLinkChange({ master: '' }), 'master', 'empty master')
})

t.test('routes', async (t) => {
  t.match(parseRouteSpec({ dst: '10.0.0.0/8', dev: 'eth0' }), { family: 4, dstLen: 8, table: 254, type: 'unicast' })
  t.match(parseRouteSpec({ dst: 'default', gateway: 'fd00::1' }), { family: 6 })
  t.match(parseRouteSpec({ dst: 'default', family: 6, type: 'blackhole' }), { family: 6, type: 'blackhole' })
  field(t, () => parseRouteSpec({ dst: '10.0.0.1/8' }), 'dst', 'host bits set')
  field(t, () => parseRouteSpec({ dst: 'nowhere' }), 'dst', 'not a CIDR')
  field(t, () => parseRouteSpec({ dst: '10.0.0.0/8', gateway: 'fd00::1' }), 'gateway', 'family mismatch')
  field(t, () => parseRouteSpec({ dst: 'default', table: 0 }), 'table', 'table 0')
  field(t, () => parseRouteSpec({ dst: 'default', scope: 'galaxy' as never }), 'scope', 'unknown scope')
  field(t, () => parseRouteSpec({ dst: 'default', type: 'teleport' as never }), 'type', 'unknown type')
  field(t, () => parseRouteSpec({ dst: 'default', dev: 'x'.repeat(16) }), 'dev', 'dev name too long')
})

t.test('sysctl keys', async (t) => {
  t.equal(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward')
  t.equal(sysctlPath('net/ipv4/conf/eth0.100/route_localnet'), '/proc/sys/net/ipv4/conf/eth0.100/route_localnet', 'dots in names kept with /')
  field(t, () => sysctlPath('net/../../etc/passwd'), 'key', 'no escaping /proc/sys')
  field(t, () => sysctlPath('/net/ipv4'), 'key', 'no absolute keys')
})
