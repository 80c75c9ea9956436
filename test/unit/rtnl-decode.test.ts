/**
 * LinkInfo decoded from RTM_NEWLINK replies captured from a real kernel (test/unit/fixtures/rtnl-capture.mts
 * made them with iproute2 in a throwaway namespace), plus decoding of hand-built address and route messages.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { decodeLink, encodeSetLink, ADDR_GEN_MODE_VALUES } from '../../src/rtnl/link-message.js'
import { decodeAddress } from '../../src/rtnl/address-message.js'
import { decodeRoute } from '../../src/rtnl/route-message.js'

const fixture = (dev: string): Buffer =>
  Buffer.from(readFileSync(new URL(`./fixtures/rtnl-newlink-${dev}.hex`, import.meta.url), 'utf8').trim(), 'hex')
const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/[\s|]/g, ''), 'hex')

const br = decodeLink(fixture('br-cap'))
const vx = decodeLink(fixture('vx-cap'))
const mv = decodeLink(fixture('mv-cap'))
const vxl = decodeLink(fixture('vxl-cap'))

t.test('bridge', async (t) => {
  t.match(br, {
    name: 'br-cap',
    kind: 'bridge',
    mac: '02:00:00:00:00:01',
    mtu: 1500, // created with 1400, but a bridge follows its ports' MTU once the veth joined
    group: 42,
    alias: 'kvmnet:capture',
    up: true,
    master: undefined,
    parent: undefined,
    bridge: { stp: true, forwardDelay: 15, vlanFiltering: false },
  })
  t.ok(br.index > 0)
  t.equal(br.tapDevice, undefined)
})

t.test('veth enslaved to the bridge', async (t) => {
  t.match(vx, { name: 'vx-cap', kind: 'veth', mac: '02:00:00:00:00:02', master: br.index, slaveKind: 'bridge', up: true, group: 0 })
  t.type(vx.parent, 'number', 'IFLA_LINK names the peer')
})

t.test('macvtap', async (t) => {
  t.match(mv, { name: 'mv-cap', kind: 'macvtap', mac: '02:00:00:00:00:03', macvlan: { mode: 'bridge' }, up: false, operState: 'down' })
  t.equal(mv.tapDevice, `/dev/tap${mv.index}`)
  t.equal(mv.parent, vx.parent, 'on the veth peer')
})

t.test('vxlan', async (t) => {
  t.match(vxl, { name: 'vxl-cap', kind: 'vxlan', vxlan: { vni: 4242, remote: '192.0.2.7', local: '192.0.2.1', port: 4789, multicastGroup: undefined } })
})

t.test('IPv6 address generation mode (IFLA_AF_SPEC)', async (t) => {
  t.equal(br.addrGenMode, 'eui64', "a captured link: the kernel's default")
  t.equal(vx.addrGenMode, 'eui64')
  // The tagging message kvmnet sends a port, read back: the same nesting the kernel dumps.
  const msg = encodeSetLink({ index: 7 }, { addrGenMode: ADDR_GEN_MODE_VALUES.none })
  t.equal(decodeLink(msg.subarray(16)).addrGenMode, 'none')
  t.equal(decodeLink(encodeSetLink({ index: 7 }, { addrGenMode: ADDR_GEN_MODE_VALUES['stable-privacy'] }).subarray(16)).addrGenMode, 'stable-privacy')
  t.equal(decodeLink(encodeSetLink({ index: 7 }, { mtu: 1400 }).subarray(16)).addrGenMode, undefined, 'absent without IFLA_AF_SPEC')
})

t.test('address and route replies', async (t) => {
  const v4 = decodeAddress(
    hex('02 18 80 00 | 05000000', '0800 0100 | c0000201', '0800 0200 | c0000201', '0800 0300 | 62723000', '0800 0800 | 80000000'),
  )
  t.same(v4, { index: 5, family: 4, address: '192.0.2.1', prefixLength: 24, cidr: '192.0.2.1/24', scope: 0, flags: 0x80, label: 'br0', peer: undefined })
  const ptp = decodeAddress(hex('02 20 00 00 | 05000000', '0800 0100 | c0000202', '0800 0200 | c0000201'))
  t.equal(ptp?.peer, '192.0.2.2')
  const v6 = decodeAddress(hex('0a 40 00 fd | 06000000', '1400 0100 | fe800000000000000000000000000001'))
  t.match(v6, { family: 6, cidr: 'fe80::1/64', scope: 253 })
  t.equal(decodeAddress(hex('07 00 00 00 | 01000000')), undefined, 'non-IP families are skipped')

  const def = decodeRoute(hex('02 00 00 00 | fe 03 00 01 | 00000000', '0800 0f00 | fe000000', '0800 0500 | c00002fe', '0800 0400 | 02000000', '0800 0600 | 64000000'))
  t.same(def, { family: 4, dst: 'default', gateway: '192.0.2.254', dev: 2, table: 254, metric: 100, scope: 0, protocol: 3, prefsrc: undefined, type: 'unicast' })
  const big = decodeRoute(hex('0a 30 00 00 | fc 04 fd 06 | 00000000', '0800 0f00 | e8030000', '1400 0100 | 20010db8000000000000000000000000'))
  t.match(big, { family: 6, dst: '2001:db8::/48', table: 1000, type: 'blackhole', protocol: 4, scope: 253 })
})
