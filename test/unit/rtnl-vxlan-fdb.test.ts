/**
 * The FDB requests a vxlan's peers are made of, byte for byte as iproute2 6.1 sends them (captured with
 * `strace -e write=all bridge fdb append|del ...`), and the kernel's dump replies (captured by
 * fixtures/vxlan-fdb-capture.mts from entries `bridge fdb append` made) decoded back.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import ipaddr from 'ipaddr.js'
import { decodeFdb, encodeAddFdb, encodeDeleteFdb, encodeDumpFdb } from '../../src/rtnl/fdb-message.js'
import { encodeCreateLink, decodeLink } from '../../src/rtnl/link-message.js'

const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/[\s|]/g, ''), 'hex')
const fixture = (dev: string): Buffer[] =>
  readFileSync(new URL(`./fixtures/vxlan-fdb-${dev}.hex`, import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((l) => Buffer.from(l, 'hex'))
/** iproute2 stamps a sequence number; kvmnet's encoders leave 0 for the socket to set. */
const seq0 = (b: Buffer): Buffer => {
  const c = Buffer.from(b)
  c.writeUInt32LE(0, 8)
  return c
}

t.test('append: what `bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.51.100.2` sends', async (t) => {
  const iproute2 = hex(
    '30 00 00 00 1c 00 05 0c  21 2c 05 6b 00 00 00 00', // nlmsghdr: 48, RTM_NEWNEIGH, REQUEST|ACK|CREATE|APPEND
    '07 00 00 00 02 00 00 00  c0 00 02 00', //             ndmsg: AF_BRIDGE, ifindex 2, NOARP|PERMANENT, NTF_SELF
    '0a 00 02 00 00 00 00 00  00 00 00 00', //             NDA_LLADDR 00:00:00:00:00:00 (+2 pad)
    '08 00 01 00 c6 33 64 02', //                          NDA_DST 198.51.100.2
  )
  t.same(encodeAddFdb({ index: 2, mac: '00:00:00:00:00:00', dst: ipaddr.parse('198.51.100.2') }), seq0(iproute2))
})

t.test('append with an IPv6 destination: NDA_DST is 16 bytes', async (t) => {
  const iproute2 = hex(
    '3c 00 00 00 1c 00 05 0c  21 2c 05 6b 00 00 00 00',
    '07 00 00 00 02 00 00 00  c0 00 02 00',
    '0a 00 02 00 00 00 00 00  00 00 00 00',
    '14 00 01 00 20 01 0d b8  00 00 00 00 00 00 00 00  00 00 00 02',
  )
  t.same(encodeAddFdb({ index: 2, mac: '00:00:00:00:00:00', dst: ipaddr.parse('2001:db8::2') }), seq0(iproute2))
})

t.test('delete: what `bridge fdb del 00:00:00:00:00:00 dev vx0 dst 198.51.100.2` sends', async (t) => {
  const iproute2 = hex(
    '30 00 00 00 1d 00 05 00  21 2c 05 6b 00 00 00 00', // RTM_DELNEIGH, REQUEST|ACK
    '07 00 00 00 02 00 00 00  c0 00 02 00',
    '0a 00 02 00 00 00 00 00  00 00 00 00',
    '08 00 01 00 c6 33 64 02',
  )
  t.same(encodeDeleteFdb({ index: 2, mac: '00:00:00:00:00:00', dst: ipaddr.parse('198.51.100.2') }), seq0(iproute2))
})

t.test('dump of one device: RTM_GETNEIGH, DUMP, an ndmsg with only family and ifindex (strict checking)', async (t) => {
  t.same(encodeDumpFdb({ index: 9 }), hex('1c000000 1e00 0103 00000000 00000000', '07 00 0000 | 09000000 | 0000 00 00'))
  t.same(encodeDumpFdb(), hex('1c000000 1e00 0103 00000000 00000000', '07 00 0000 | 00000000 | 0000 00 00'))
})

t.test('the kernel dump of a vxlan on a bridge, decoded', async (t) => {
  const [bridgeOwn, specific, peerB, peerC] = fixture('vx4-cap').map(decodeFdb)
  t.match(bridgeOwn, { index: 3, mac: '02:00:00:00:00:04', self: false, bridge: 2, dst: undefined, permanent: true }, "the bridge's entry for the port's own MAC")
  t.match(specific, { index: 3, mac: '52:54:00:aa:bb:cc', dst: '198.51.100.3', self: true, permanent: true, bridge: undefined })
  t.match(peerB, { mac: '00:00:00:00:00:00', dst: '198.51.100.2', self: true, permanent: true, state: 0xc0 })
  t.match(peerC, { mac: '00:00:00:00:00:00', dst: '198.51.100.3', self: true, permanent: true })
  const [v6] = fixture('vx6-cap').map(decodeFdb)
  t.match(v6, { index: 4, mac: '00:00:00:00:00:00', dst: '2001:db8::2', self: true })
  t.equal(decodeFdb(hex('02 00 0000 | 03000000 | 0000 00 00')), undefined, 'not AF_BRIDGE: not an FDB entry')
})

t.test('vxlan link: IFLA_VXLAN_LEARNING (u8) when the spec says, read back', async (t) => {
  const msg = encodeCreateLink({ kind: 'vxlan', name: 'vx0', vni: 7, learning: true })
  t.ok(msg.includes(hex('0500 0700 | 01 000000')), 'IFLA_VXLAN_LEARNING 1')
  t.notOk(encodeCreateLink({ kind: 'vxlan', name: 'vx0', vni: 7 }).includes(hex('0500 0700')), 'absent unless given')
  const vxl = decodeLink(Buffer.from(readFileSync(new URL('./fixtures/rtnl-newlink-vxl-cap.hex', import.meta.url), 'utf8').trim(), 'hex'))
  t.equal(vxl.vxlan?.learning, true, "iproute2's default: learning on")
})
