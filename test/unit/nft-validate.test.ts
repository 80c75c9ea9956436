/** Bad NetworkRules are refused with a SpecError naming the field, before nft is ever run. */
import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { encodeGetTable } from '../../src/nft/table-exists.js'
import { Nft, checkRules, renderRules, requiredSysctls, type NetworkRules, type PortForward } from '../../src/nft/index.js'

const base: NetworkRules = {
  tag: 'net1',
  bridge: 'br0',
  mode: 'nat',
  ipv4: { subnet: '192.168.100.0/24', hostAddress: '192.168.100.1' },
}
const fwd = (f: Partial<PortForward>): PortForward => ({ proto: 'tcp', hostPort: 8080, guest: '192.168.100.10', ...f })
const withForwards = (...forwards: PortForward[]): NetworkRules => ({ ...base, forwards })

const bad: Array<[string, NetworkRules, string]> = [
  ['tag with a space', { ...base, tag: 'my net' }, 'tag'],
  ['tag too long', { ...base, tag: 'x'.repeat(33) }, 'tag'],
  ['empty tag', { ...base, tag: '' }, 'tag'],
  ['bridge name over 15 bytes', { ...base, bridge: 'bridge-name-long' }, 'bridge'],
  ['bridge name with a slash', { ...base, bridge: 'br/0' }, 'bridge'],
  ['mode unknown', { ...base, mode: 'bridge' as 'nat' }, 'mode'],
  ['subnet not a CIDR', { ...base, ipv4: { subnet: '192.168.100.0' } }, 'ipv4.subnet'],
  ['IPv6 subnet given as ipv4', { ...base, ipv4: { subnet: 'fd00::/64' } }, 'ipv4.subnet'],
  ['prefix /32 leaves no guest', { ...base, ipv4: { subnet: '192.168.100.1/32' } }, 'ipv4.subnet'],
  ['host address outside the subnet', { ...base, ipv4: { subnet: '192.168.100.0/24', hostAddress: '192.168.1.1' } }, 'ipv4.hostAddress'],
  ['host address is the broadcast', { ...base, ipv4: { subnet: '192.168.100.0/24', hostAddress: '192.168.100.255' } }, 'ipv4.hostAddress'],
  ['ipv6 host address outside', { ...base, ipv6: { subnet: 'fd00::/64', hostAddress: 'fd01::1' } }, 'ipv6.hostAddress'],
  ['port 0', withForwards(fwd({ hostPort: 0 })), 'forwards[0].hostPort'],
  ['port 65536', withForwards(fwd({ hostPort: 65536 })), 'forwards[0].hostPort'],
  ['fractional port', withForwards(fwd({ hostPort: 80.5 })), 'forwards[0].hostPort'],
  ['range start after end', withForwards(fwd({ hostPort: [9000, 8000] })), 'forwards[0].hostPort'],
  ['range with port 0', withForwards(fwd({ hostPort: [0, 10] })), 'forwards[0].hostPort'],
  ['guest range passes 65535', withForwards(fwd({ hostPort: [8000, 8009], guestPort: 65530 })), 'forwards[0].guestPort'],
  ['guest port 70000', withForwards(fwd({ guestPort: 70000 })), 'forwards[0].guestPort'],
  ['IPv6 guest with an IPv4-only network', withForwards(fwd({ guest: 'fd00::10' })), 'forwards[0].guest'],
  ['guest outside the subnet', withForwards(fwd({ guest: '10.0.0.5' })), 'forwards[0].guest'],
  ['guest is the network address', withForwards(fwd({ guest: '192.168.100.0' })), 'forwards[0].guest'],
  ['guest is the broadcast address', withForwards(fwd({ guest: '192.168.100.255' })), 'forwards[0].guest'],
  ['guest is the host address', withForwards(fwd({ guest: '192.168.100.1' })), 'forwards[0].guest'],
  ['guest not an address', withForwards(fwd({ guest: 'guest1' })), 'forwards[0].guest'],
  ['guest in legacy octal form', withForwards(fwd({ guest: '192.168.100.010' })), 'forwards[0].guest'],
  ['proto icmp', withForwards(fwd({ proto: 'icmp' as 'tcp' })), 'forwards[0].proto'],
  ['hostAddress of the other family', withForwards(fwd({ hostAddress: '2001:db8::1' })), 'forwards[0].hostAddress'],
  ['inInterface too long', withForwards(fwd({}), fwd({ hostPort: 9090, inInterface: 'averyveryverylongname' })), 'forwards[1].inInterface'],
  ['overlapping forwards', withForwards(fwd({ hostPort: [8000, 8100] }), fwd({ hostPort: 8080 })), 'forwards[1].hostPort'],
  ['forwards on an isolated network', { ...base, mode: 'isolated', forwards: [fwd({})] }, 'forwards'],
  ['nat options on an isolated network', { ...base, mode: 'isolated', nat: { uplink: 'eth0' } }, 'nat'],
  ['snat to an IPv6 address', { ...base, nat: { snat: '2001:db8::1' } }, 'nat.snat'],
  ['snat without an IPv4 subnet', { tag: 'n', bridge: 'br0', mode: 'nat', ipv6: { subnet: 'fd00::/64' }, nat: { snat: '198.51.100.1' } }, 'nat.snat'],
  ['uplink name over 15 bytes', { ...base, nat: { uplink: 'uplink-name-long' } }, 'nat.uplink'],
  ['nat66 on an isolated network', { ...base, mode: 'isolated', ipv6: { subnet: 'fd00::/64', nat66: true } }, 'ipv6.nat66'],
]

for (const [what, rules, field] of bad) {
  t.test(what, async (t) => {
    const err = t.throws(() => renderRules(rules)) as unknown
    t.type(err, SpecError)
    t.equal((err as SpecError).field, field)
  })
}

t.test('all problems are reported at once', async (t) => {
  const err = t.throws(() =>
    checkRules({ ...base, tag: 'a b', forwards: [fwd({ hostPort: 0 }), fwd({ hostPort: 9000, guest: '10.9.9.9' })] }),
  ) as SpecError
  t.same(
    err.issues.map((i) => i.field),
    ['tag', 'forwards[0].hostPort', 'forwards[1].guest'],
  )
})

t.test('apply refuses bad input before nft runs', async (t) => {
  // A missing binary would fail with NftError if apply got as far as running nft.
  const nft = new Nft(undefined, { nftPath: '/nonexistent/nft' })
  await t.rejects(nft.apply(withForwards(fwd({ hostPort: 0 }))), SpecError)
  await t.rejects(nft.applyMany([base, base]), SpecError)
  await t.rejects(nft.remove('bad tag'), SpecError)
})

t.test('accepted edge cases', async (t) => {
  t.doesNotThrow(() => renderRules(withForwards(fwd({ hostPort: [1, 65535] }))), 'full range, same ports')
  t.doesNotThrow(() => renderRules(withForwards(fwd({ hostPort: 65535 }))), 'port 65535')
  t.doesNotThrow(() => renderRules(withForwards(fwd({ hostAddress: '127.0.0.1' }))), 'loopback-only forward')
  t.doesNotThrow(
    () => renderRules(withForwards(fwd({}), fwd({ hostAddress: '203.0.113.1' }), fwd({ inInterface: 'eth1' }), fwd({ proto: 'udp' }))),
    'same port with different address, interface or protocol',
  )
  const c = checkRules({ ...base, ipv4: { subnet: '192.168.100.77/24' }, ipv6: { subnet: 'FD00:0:0:0::5/64' } })
  t.equal(c.v4?.addr, '192.168.100.0', 'subnet normalized to its network address')
  t.equal(c.v6?.addr, 'fd00::', 'IPv6 subnet normalized and lower-cased')
})

t.test('requiredSysctls', async (t) => {
  t.same(requiredSysctls(base), [], 'no forwards, nothing needed')
  t.same(
    requiredSysctls(withForwards(fwd({}))).map((s) => [s.key, s.value, s.path]),
    [['net.ipv4.conf.br0.route_localnet', '1', '/proc/sys/net/ipv4/conf/br0/route_localnet']],
  )
  t.same(requiredSysctls(withForwards(fwd({ inInterface: 'eth0' }))), [], 'interface-bound forward is not reachable from the host')
  t.same(requiredSysctls(withForwards(fwd({ hostAddress: '203.0.113.1' }))), [], 'address-bound forward is not reachable via 127.0.0.1')
  t.equal(requiredSysctls({ ...withForwards(fwd({})), bridge: 'br0.10' })[0]?.key, 'net.ipv4.conf.br0/10.route_localnet', 'dots in the ifname')
})

t.test('NFT_MSG_GETTABLE request bytes', async (t) => {
  // nlmsghdr{len=36, type=(NFNL_SUBSYS_NFTABLES<<8)|NFT_MSG_GETTABLE=0x0a01, flags=REQUEST|ACK=5, seq=0, pid=0}
  // nfgenmsg{family=NFPROTO_INET=1, version=0, res_id=0}, NFTA_TABLE_NAME(1) "kvmnet_a\0" padded to 4.
  const want = Buffer.from('24000000' + '010a' + '0500' + '00000000' + '00000000' + '01000000' + '0d000100' + Buffer.from('kvmnet_a\0').toString('hex') + '000000', 'hex')
  t.equal(encodeGetTable('kvmnet_a').toString('hex'), want.toString('hex'))
})
