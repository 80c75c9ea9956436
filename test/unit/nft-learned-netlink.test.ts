/**
 * The netlink read of the learning sets, pure parts: the requests' bytes (from linux/netfilter/nf_tables.h
 * and nfnetlink.h), IPv6 text as glibc's inet_ntop writes it (what nft prints), and the decode of a
 * hand-built NFT_MSG_NEWSETELEM message into what parseLearned makes of nft's listing, in nft's order.
 */
import t from 'tap'
import { attr, attrString, nested } from '../../src/rtnl/wire/attrs.js'
import { decodeLearned, decodeSetTimeout, encodeDumpSetElems, encodeGetSet } from '../../src/nft/learned-netlink.js'
import { ipv6Text } from '../../src/util/index.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex')

t.test('requests', async (t) => {
  // nlmsghdr: len 36, type NFNL_SUBSYS_NFTABLES<<8 | NFT_MSG_GETSET (0x0a0a), flags REQUEST|ACK (5);
  // nfgenmsg bridge (7); NFTA_SET_TABLE "tb"; NFTA_SET_NAME "v4".
  t.same(encodeGetSet('bridge', 'tb', 'v4'), hex('24000000 0a0a 0500 00000000 00000000 | 07000000 | 0700 0100 746200 00 | 0700 0200 763400 00'))
  // NFT_MSG_GETSETELEM (0x0a0d), flags REQUEST|DUMP (0x301); NFTA_SET_ELEM_LIST_TABLE, _SET.
  t.same(encodeDumpSetElems('netdev', 'tb', 'v6'), hex('24000000 0d0a 0103 00000000 00000000 | 05000000 | 0700 0100 746200 00 | 0700 0200 763600 00'))
})

t.test('IPv6 text as inet_ntop writes it', async (t) => {
  const cases: [string, string][] = [
    ['fd000040000000000000000000000002', 'fd00:40::2'],
    ['20010db8000000000000000000000000', '2001:db8::'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000ffffc0000207', '::ffff:192.0.2.7'],
    ['000000000000000000000000c0000208', '::192.0.2.8'],
    ['00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
    ['00010000000300040005000600070008', '1:0:3:4:5:6:7:8'],
    ['fe80000000000000505400fffe000001', 'fe80::5054:ff:fe00:1'],
  ]
  for (const [bytes, text] of cases) t.equal(ipv6Text(hex(bytes), 0, true), text)
})

t.test('decode: key fields, expiry, the set timeout, nft order', async (t) => {
  const be64 = (n: number) => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64BE(BigInt(n))
    return b
  }
  const key = (ifname: string, mac: string, ip: string) => Buffer.concat([Buffer.from(ifname.padEnd(16, '\0')), hex(mac), Buffer.alloc(2), Buffer.from(ip.split('.').map(Number))])
  const elem = (k: Buffer, expMs?: number) => nested(1, [nested(1, [attr(1, k)]), ...(expMs === undefined ? [] : [attr(5, be64(expMs))])])
  const msg = Buffer.concat([
    Buffer.from([7, 0, 0, 0]),
    attrString(1, 'kvmnet-addr_t'),
    attrString(2, 'v4'),
    nested(3, [elem(key('p0', '525400000002', '10.0.0.1'), 20_999), elem(key('p0', '5254000000AA', '10.0.0.1')), elem(key('p1', '525400000003', '10.0.0.0'), 0)]),
  ])
  t.same(decodeLearned([msg], 4, 60), [
    { ifname: 'p1', mac: '52:54:00:00:00:03', address: '10.0.0.0', family: 4, expires: 60, timeout: 60 },
    { ifname: 'p0', mac: '52:54:00:00:00:02', address: '10.0.0.1', family: 4, expires: 20, timeout: 60 },
    { ifname: 'p0', mac: '52:54:00:00:00:aa', address: '10.0.0.1', family: 4, expires: 60, timeout: 60 },
  ])
  t.equal(decodeSetTimeout(Buffer.concat([Buffer.from([7, 0, 0, 0]), attr(11, be64(60_000))])), 60)
  t.equal(decodeSetTimeout(Buffer.from([7, 0, 0, 0])), 0, 'no timeout')
})
