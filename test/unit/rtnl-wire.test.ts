/**
 * Golden bytes for the rtnetlink encoders. Every expected buffer is written out field by field from the
 * uapi headers (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h), little-endian as on x86/arm.
 */
import t from 'tap'
import {
  decodeHeader,
  splitMessages,
  encodeMessage,
} from '../../src/rtnl/wire/header.js'
import { attr, attrMap, attrString, attrU16be, attrU32, nested, parseAttrs } from '../../src/rtnl/wire/attrs.js'
import { parseDone, parseNlError } from '../../src/rtnl/wire/nlmsgerr.js'
import {
  encodeCreateLink,
  encodeDeleteGroup,
  encodeDeleteLink,
  encodeDumpLinks,
  encodeGetLink,
  encodeSetLink,
} from '../../src/rtnl/link-message.js'
import { encodeAddAddress, encodeDeleteAddress, encodeDumpAddresses, parseHostCidr } from '../../src/rtnl/address-message.js'
import { encodeAddRoute, encodeDeleteRoute, encodeDumpRoutes } from '../../src/rtnl/route-message.js'
import { parseRouteSpec } from '../../src/rtnl/route-validate.js'

/** Hex with spaces and `|` separators for readability. */
const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/[\s|]/g, ''), 'hex')
/** struct nlmsghdr with seq 0 and pid 0, as the encoders leave them. */
const nlh = (len: number, type: number, flags: number): string => {
  const b = Buffer.alloc(16)
  b.writeUInt32LE(len, 0)
  b.writeUInt16LE(type, 4)
  b.writeUInt16LE(flags, 6)
  return b.toString('hex')
}
const REQ_ACK_CREATE_EXCL = 0x0001 | 0x0004 | 0x0400 | 0x0200
const REQ_ACK = 0x0001 | 0x0004
const REQ_DUMP = 0x0001 | 0x0300

t.test('attributes: header, payload, padding to 4', async (t) => {
  t.same(attrString(3, 'br0'), hex('0800 0300 | 62723000'))
  t.same(attrString(3, 'v0'), hex('0700 0300 | 763000 | 00'), 'len 7 excludes the pad byte')
  t.same(attrU32(27, 7), hex('0800 1b00 | 07000000'))
  t.same(attrU16be(15, 4789), hex('0600 0f00 | 12b5 | 0000'), 'network byte order, padded')
  t.same(nested(18, [attrString(1, 'tun')]), hex('0c00 1200 | 0800 0100 74756e00'))
  const run = Buffer.concat([attr(1, Buffer.from([1, 2, 3])), attrU32(0x8000 | 2, 9)])
  const parsed = parseAttrs(run)
  t.equal(parsed.length, 2)
  t.same(parsed[0]!.data, Buffer.from([1, 2, 3]))
  t.equal(parsed[1]!.type, 2, 'NLA_F_NESTED is masked off')
  t.equal(attrMap(run).get(2)!.readUInt32LE(0), 9)
  t.same(parseAttrs(Buffer.concat([run, hex('ff00 0100')])).length, 2, 'a truncated tail is ignored, not thrown on')
})

t.test('bridge create: RTM_NEWLINK, CREATE|EXCL, IFF_UP, group, IFLA_LINKINFO{kind, data}', async (t) => {
  const got = encodeCreateLink({ kind: 'bridge', name: 'br0', stp: false, forwardDelay: 0, up: true, group: 7 })
  const want = hex(
    nlh(84, 16, REQ_ACK_CREATE_EXCL),
    '00 00 0000 | 00000000 | 01000000 | 01000000', // ifinfomsg: AF_UNSPEC, index 0, flags IFF_UP, change IFF_UP
    '0800 0300 | 62723000', // IFLA_IFNAME "br0"
    '0800 1b00 | 07000000', // IFLA_GROUP 7
    '2400 1200', // IFLA_LINKINFO, 36 bytes
    '0b00 0100 | 627269646765 00 | 00', //   IFLA_INFO_KIND "bridge" (+1 pad)
    '1400 0200', //   IFLA_INFO_DATA, 20 bytes
    '0800 0100 | 00000000', //     IFLA_BR_FORWARD_DELAY 0 (clock_t)
    '0800 0500 | 00000000', //     IFLA_BR_STP_STATE 0
  )
  t.same(got, want)
  const stp = encodeCreateLink({ kind: 'bridge', name: 'br0', stp: true, forwardDelay: 15, vlanFiltering: true })
  t.ok(stp.includes(hex('0800 0100 | dc050000')), 'forward delay 15 s = 1500 clock_t')
  t.ok(stp.includes(hex('0500 0700 | 01 000000')), 'IFLA_BR_VLAN_FILTERING u8 1')
})

t.test('veth with peer in another namespace: VETH_INFO_PEER = ifinfomsg + IFLA_IFNAME + IFLA_NET_NS_FD', async (t) => {
  const got = encodeCreateLink({ kind: 'veth', name: 'v0', peer: { name: 'v1' } }, { peerNetnsFd: 5 })
  const want = hex(
    nlh(96, 16, REQ_ACK_CREATE_EXCL),
    '00000000 00000000 00000000 00000000', // ifinfomsg, all zero
    '0700 0300 | 763000 | 00', // IFLA_IFNAME "v0"
    '3800 1200', // IFLA_LINKINFO, 56
    '0900 0100 | 7665746800 | 000000', //   IFLA_INFO_KIND "veth"
    '2800 0200', //   IFLA_INFO_DATA, 40
    '2400 0100', //     VETH_INFO_PEER, 36
    '00000000 00000000 00000000 00000000', //       peer's ifinfomsg
    '0700 0300 | 763100 | 00', //       IFLA_IFNAME "v1"
    '0800 1c00 | 05000000', //       IFLA_NET_NS_FD 5
  )
  t.same(got, want)
})

t.test('macvtap: chosen ifi_index, IFLA_ADDRESS, IFLA_LINK parent, IFLA_MACVLAN_MODE bridge', async (t) => {
  const got = encodeCreateLink(
    { kind: 'macvtap', name: 'mt0', parent: 'eth0', mode: 'bridge', mac: '52:54:00:12:34:56' },
    { parent: 3, index: 70000 },
  )
  const want = hex(
    nlh(88, 16, REQ_ACK_CREATE_EXCL),
    '00 00 0000 | 70110100 | 00000000 | 00000000', // ifi_index 70000
    '0800 0300 | 6d743000', // IFLA_IFNAME "mt0"
    '0a00 0100 | 525400123456 | 0000', // IFLA_ADDRESS
    '0800 0500 | 03000000', // IFLA_LINK 3
    '1c00 1200', // IFLA_LINKINFO, 28
    '0c00 0100 | 6d61637674617000', //   "macvtap"
    '0c00 0200', //   IFLA_INFO_DATA
    '0800 0100 | 04000000', //     IFLA_MACVLAN_MODE MACVLAN_MODE_BRIDGE
  )
  t.same(got, want)
  for (const [mode, v] of [['private', 1], ['vepa', 2], ['passthru', 8], ['source', 16]] as const) {
    const b = encodeCreateLink({ kind: 'macvlan', name: 'm', parent: 1, mode }, { parent: 1 })
    t.ok(b.includes(hex('0800 0100', Buffer.from([v, 0, 0, 0]).toString('hex'))), `mode ${mode} = ${v}`)
  }
})

t.test('vxlan: VNI, GROUP (remote), LOCAL, LINK, PORT big-endian', async (t) => {
  const got = encodeCreateLink({ kind: 'vxlan', name: 'vx0', vni: 42, remote: '192.0.2.7', local: '192.0.2.1' }, { parent: 2 })
  const want = hex(
    nlh(100, 16, REQ_ACK_CREATE_EXCL),
    '00000000 00000000 00000000 00000000',
    '0800 0300 | 76783000', // "vx0"
    '3c00 1200', // IFLA_LINKINFO, 60
    '0a00 0100 | 7678 6c61 6e00 | 0000', //   "vxlan"
    '2c00 0200', //   IFLA_INFO_DATA, 44
    '0800 0100 | 2a000000', //     IFLA_VXLAN_ID 42
    '0800 0200 | c0000207', //     IFLA_VXLAN_GROUP 192.0.2.7
    '0800 0400 | c0000201', //     IFLA_VXLAN_LOCAL 192.0.2.1
    '0800 0300 | 02000000', //     IFLA_VXLAN_LINK 2
    '0600 0f00 | 12b5 | 0000', //     IFLA_VXLAN_PORT 4789 (be16)
  )
  t.same(got, want)
  const v6 = encodeCreateLink({ kind: 'vxlan', name: 'vx0', vni: 1, multicastGroup: 'ff05::5', port: 8472 }, { parent: 2 })
  t.ok(v6.includes(hex('1400 1000 | ff050000000000000000000000000005')), 'IFLA_VXLAN_GROUP6')
  t.ok(v6.includes(hex('0600 0f00 | 2118')), 'port 8472')
})

t.test('set, delete, group delete, get, dump', async (t) => {
  t.same(
    encodeSetLink({ index: 9 }, { up: false, master: 0 }),
    hex(nlh(40, 16, REQ_ACK), '00 00 0000 | 09000000 | 00000000 | 01000000', '0800 0a00 | 00000000'),
    'nomaster = IFLA_MASTER 0; down = flags 0 with change IFF_UP',
  )
  t.same(
    encodeSetLink({ name: 'tap0' }, { master: 4, up: true, alias: 'x' }),
    hex(nlh(60, 16, REQ_ACK), '00 00 0000 | 00000000 | 01000000 | 01000000', '0900 0300 | 7461703000 | 000000', '0800 0a00 | 04000000', '0600 1400 | 7800 | 0000'),
  )
  t.throws(() => encodeSetLink({ name: 'a' }, { name: 'b' }), TypeError, 'rename needs an index')
  t.same(
    encodeSetLink({ index: 2 }, { addrGenMode: 1 }),
    hex(nlh(48, 16, REQ_ACK), '00 00 0000 | 02000000 | 00000000 | 00000000', '1000 1a00 | 0c00 0a00 | 0500 0800 | 01 000000'),
    'addrgenmode none: IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE 1 } }, the bytes `ip link set dev d0 addrgenmode none` sends (strace)',
  )
  t.same(encodeDeleteLink({ index: 5 }), hex(nlh(32, 17, REQ_ACK), '00 00 0000 | 05000000 | 00000000 | 00000000'))
  t.same(
    encodeDeleteGroup(42),
    hex(nlh(40, 17, REQ_ACK), '00000000 00000000 00000000 00000000', '0800 1b00 | 2a000000'),
    'ip link delete group 42',
  )
  t.same(
    encodeGetLink({ name: 'eth0' }),
    hex(nlh(52, 18, REQ_ACK), '00000000 00000000 00000000 00000000', '0900 0300 | 6574683000 | 000000', '0800 1d00 | 08000000'),
    'GETLINK by IFLA_IFNAME with RTEXT_FILTER_SKIP_STATS',
  )
  t.same(
    encodeDumpLinks({ master: 2, kind: 'tun' }),
    hex(nlh(60, 18, REQ_DUMP), '00000000 00000000 00000000 00000000', '0800 1d00 | 08000000', '0800 0a00 | 02000000', '0c00 1200 | 0800 0100 74756e00'),
  )
})

t.test('addresses: IPv4 add (IFA_LOCAL + IFA_ADDRESS), IPv6 replace with IFA_FLAGS, delete, dump', async (t) => {
  t.same(
    encodeAddAddress(2, parseHostCidr('192.0.2.1/24')),
    hex(nlh(40, 20, REQ_ACK_CREATE_EXCL), '02 18 00 00 | 02000000', '0800 0200 | c0000201', '0800 0100 | c0000201'),
  )
  t.same(
    encodeAddAddress(3, parseHostCidr('fd00::1/64'), { noDad: true }, true),
    hex(
      nlh(52, 20, 0x0001 | 0x0004 | 0x0400 | 0x0100), // REQUEST|ACK|CREATE|REPLACE
      '0a 40 02 00 | 03000000', // AF_INET6, /64, IFA_F_NODAD, scope universe
      '1400 0100 | fd000000000000000000000000000001',
      '0800 0800 | 02000000', // IFA_FLAGS
    ),
  )
  t.same(encodeDeleteAddress(2, parseHostCidr('192.0.2.1/24')), hex(nlh(40, 21, REQ_ACK), '02 18 00 00 | 02000000', '0800 0200 | c0000201', '0800 0100 | c0000201'))
  t.same(encodeDumpAddresses({ index: 4 }), hex(nlh(24, 22, REQ_DUMP), '00 00 00 00 | 04000000'))
})

t.test('routes: default via gateway, a non-main table, delete, dump', async (t) => {
  t.same(
    encodeAddRoute({ ...parseRouteSpec({ dst: 'default', gateway: '192.0.2.254' }), dev: 2 }),
    hex(
      nlh(52, 24, REQ_ACK_CREATE_EXCL),
      '02 00 00 00 | fe 03 00 01 | 00000000', // AF_INET, /0, main, RTPROT_BOOT, universe, RTN_UNICAST
      '0800 0f00 | fe000000', // RTA_TABLE 254
      '0800 0500 | c00002fe', // RTA_GATEWAY
      '0800 0400 | 02000000', // RTA_OIF
    ),
  )
  t.same(
    encodeAddRoute({ ...parseRouteSpec({ dst: '198.51.100.0/24', table: 1000, metric: 10 }), dev: 2 }, true),
    hex(
      nlh(60, 24, 0x0001 | 0x0004 | 0x0400 | 0x0100),
      '02 18 00 00 | 00 03 fd 01 | 00000000', // table > 255: rtm_table RT_TABLE_UNSPEC; no gateway: scope link
      '0800 0f00 | e8030000', // RTA_TABLE 1000
      '0800 0100 | c6336400', // RTA_DST
      '0800 0400 | 02000000',
      '0800 0600 | 0a000000', // RTA_PRIORITY 10
    ),
  )
  t.same(
    encodeAddRoute({ ...parseRouteSpec({ dst: 'default', gateway: 'fe80::1' }), dev: 3 }),
    hex(nlh(64, 24, REQ_ACK_CREATE_EXCL), '0a 00 00 00 | fe 03 00 01 | 00000000', '0800 0f00 | fe000000', '1400 0500 | fe800000000000000000000000000001', '0800 0400 | 03000000'),
    'IPv6 default inferred from the gateway',
  )
  t.same(
    encodeDeleteRoute({ ...parseRouteSpec({ dst: '203.0.113.0/24' }), dev: undefined }),
    hex(nlh(44, 25, REQ_ACK), '02 18 00 00 | fe 00 ff 01 | 00000000', '0800 0f00 | fe000000', '0800 0100 | cb007100'),
    'delete: any protocol (0), any scope (RT_SCOPE_NOWHERE)',
  )
  t.same(encodeDumpRoutes({ table: 1000, dev: 7 }), hex(nlh(44, 26, REQ_DUMP), '00 00 00 00 | 00 00 00 00 | 00000000', '0800 0f00 | e8030000', '0800 0400 | 07000000'))
  t.same(encodeDumpRoutes({ family: 4 }), hex(nlh(28, 26, REQ_DUMP), '02 00 00 00 | fe 00 00 00 | 00000000'), 'main by default')
})

t.test('NLMSG_ERROR with extended ack (capped), plain ack, NLMSG_DONE, multipart split', async (t) => {
  const err = hex(
    nlh(56, 2, 0x0100 | 0x0200), // NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS
    'edffffff', // error -19 (ENODEV)
    '20000000 1100 0500 09000000 d2040000', // the request's header: len 32, RTM_DELLINK, REQUEST|ACK, seq 9, pid 1234
    '0900 0100 | 626f6f6d00 | 000000', // NLMSGERR_ATTR_MSG "boom"
    '0800 0200 | 20000000', // NLMSGERR_ATTR_OFFS 32
  )
  const [m] = splitMessages(err)
  t.equal(m!.header.type, 2)
  const e = parseNlError(m!.payload, m!.header.flags)
  t.equal(e.errno, 19)
  t.equal(e.request?.seq, 9)
  t.equal(e.request?.type, 17)
  t.equal(e.message, 'boom')
  t.equal(e.offset, 32)

  const ack = hex(nlh(36, 2, 0x0100), '00000000', '20000000 1000 0500 0a000000 00000000')
  t.same(parseNlError(splitMessages(ack)[0]!.payload, 0x100), { errno: 0, request: decodeHeader(hex('20000000 1000 0500 0a000000 00000000')), message: undefined, offset: undefined })

  const uncapped = Buffer.concat([
    hex(nlh(16 + 4 + 24 + 8, 2, 0x0200), 'eaffffff'), // -22 EINVAL, not capped: whole 24-byte request echoed
    hex('18000000 1400 0500 01000000 00000000', '0800 0100 c0000201'),
    hex('0800 0100 | 78797a00'),
  ])
  t.equal(parseNlError(splitMessages(uncapped)[0]!.payload, 0x200).message, 'xyz', 'TLVs found after an uncapped echo')

  const datagram = Buffer.concat([
    encodeMessage(16, 0x2, [Buffer.alloc(16)], 5),
    encodeMessage(16, 0x2, [Buffer.alloc(20)], 5),
    hex(nlh(20, 3, 0x2), '00000000'),
  ])
  const parts = splitMessages(datagram)
  t.same(parts.map((p) => [p.header.type, p.header.seq, p.payload.length]), [[16, 5, 16], [16, 5, 20], [3, 0, 4]])
  t.same(parseDone(parts[2]!.payload, 0), { errno: 0, message: undefined })
  t.same(parseDone(hex('f0ffffff', '0900 0100 | 6e6f706500 | 000000'), 0x200), { errno: 16, message: 'nope' })
})

t.test('encodeSetLink, written in place: the bytes of the message built from its parts, for every field and mix of them', async (t) => {
  const { encodeIfInfoMsg } = await import('../../src/rtnl/wire/ifinfomsg.js')
  const { macToBytes } = await import('../../src/rtnl/wire/mac.js')
  type Change = Parameters<typeof encodeSetLink>[1]
  // The construction the encoder had: an ifinfomsg, then each attribute as a buffer of its own, in this order.
  const fromParts = (target: { index: number } | { name: string }, c: Change): Buffer => {
    const ifi = encodeIfInfoMsg({ index: 'index' in target ? target.index : 0, ...(c.up === undefined ? {} : { flags: c.up ? 1 : 0, change: 1 }) })
    const attrs: Buffer[] = 'name' in target ? [attrString(3, target.name)] : []
    if (c.name !== undefined) attrs.push(attrString(3, c.name))
    if (c.mtu !== undefined) attrs.push(attrU32(4, c.mtu))
    if (c.mac !== undefined) attrs.push(attr(1, macToBytes(c.mac)))
    if (c.master !== undefined) attrs.push(attrU32(10, c.master))
    if (c.group !== undefined) attrs.push(attrU32(27, c.group))
    if (c.alias !== undefined) attrs.push(attrString(20, c.alias))
    if (c.netnsFd !== undefined) attrs.push(attrU32(28, c.netnsFd))
    return encodeMessage(16, 5, [ifi, ...attrs])
  }
  const changes: Change[] = [
    {},
    { up: true },
    { up: false, master: 0 },
    { group: 77, alias: 'kvmnet:net:port@ab', mac: '52:54:00:0a:0b:0c', mtu: 9000 },
    { master: 12, up: true },
    { alias: 'é', mac: '02:00:00:00:00:01' },
    { alias: 'abc' },
    { alias: 'abcd' },
    { mac: '00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33' },
    { netnsFd: 7, group: 4294967295 },
  ]
  for (const target of [{ index: 9 }, { name: 'p' }, { name: 'pcp999' }, { name: 'abcdefghijklmno' }]) {
    for (const c of changes) t.same(encodeSetLink(target, c), fromParts(target, c), `${JSON.stringify(target)} ${JSON.stringify(c)}`)
  }
  t.same(encodeSetLink({ index: 3 }, { name: 'newname', up: true }), fromParts({ index: 3 }, { name: 'newname', up: true }), 'a rename by index')
})
