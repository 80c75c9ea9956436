/** Golden bytes of doctor's kernel questions: the sock_diag dump of listening sockets, and RTM_GETROUTE. */
import t from 'tap'
import { decodeInetDiag, encodeListeningDump } from '../../src/doctor/sock-diag.js'
import { encodeRouteGet } from '../../src/rtnl/route-message.js'
import { SpecError } from '../../src/errors.js'

const hex = (b: Buffer): string => b.toString('hex')

t.test('the dump request: inet_diag_req_v2 for one family and protocol, ss -l states', async (t) => {
  // nlmsghdr: len 72, SOCK_DIAG_BY_FAMILY (20), REQUEST|DUMP; then AF_INET, IPPROTO_UDP, states 1 << TCP_CLOSE.
  t.equal(hex(encodeListeningDump(4, 'udp')), `48000000140001030000000000000000021100008000000000${'00'.repeat(47)}`)
  // AF_INET6, IPPROTO_TCP, 1 << TCP_LISTEN.
  t.equal(hex(encodeListeningDump(6, 'tcp')).slice(32, 48), '0a06000000040000')
})

function diagMsg(o: { af: number; port: number; src: number[]; ifindex: number; inode: number; v6only?: number }): Buffer {
  const b = Buffer.alloc(72)
  b.writeUInt8(o.af, 0)
  b.writeUInt8(7, 1)
  b.writeUInt16BE(o.port, 4)
  Buffer.from(o.src).copy(b, 8)
  b.writeUInt32LE(o.ifindex, 40)
  b.writeUInt32LE(o.inode, 68)
  if (o.v6only === undefined) return b
  // INET_DIAG_SKV6ONLY (11), one byte, padded to four.
  return Buffer.concat([b, Buffer.from([5, 0, 11, 0, o.v6only, 0, 0, 0])])
}

t.test('a reply: the address as ss prints it, port, bound device and inode', async (t) => {
  t.same(decodeInetDiag(diagMsg({ af: 2, port: 53, src: [198, 51, 100, 1], ifindex: 0, inode: 4242 }), 'udp'), { proto: 'udp', family: 4, addr: '198.51.100.1', port: 53, ifindex: 0, inode: 4242 })
  t.same(decodeInetDiag(diagMsg({ af: 2, port: 67, src: [0, 0, 0, 0], ifindex: 7, inode: 1 }), 'udp')?.addr, '0.0.0.0', 'an IPv4 wildcard bound to ifindex 7')
  const zero16 = new Array<number>(16).fill(0)
  t.equal(decodeInetDiag(diagMsg({ af: 10, port: 547, src: zero16, ifindex: 0, inode: 2, v6only: 1 }), 'udp')?.addr, '::', 'a v6-only wildcard')
  t.equal(decodeInetDiag(diagMsg({ af: 10, port: 8080, src: zero16, ifindex: 0, inode: 3, v6only: 0 }), 'tcp')?.addr, '*', 'a dual-stack wildcard')
  t.equal(decodeInetDiag(diagMsg({ af: 10, port: 8080, src: zero16, ifindex: 0, inode: 3 }), 'tcp')?.addr, '*', 'no v6only attribute: dual stack, as ss assumes')
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
  t.equal(decodeInetDiag(diagMsg({ af: 10, port: 8443, src: v6, ifindex: 0, inode: 4, v6only: 1 }), 'tcp')?.addr, '2001:db8:5::1')
  t.equal(decodeInetDiag(Buffer.alloc(40), 'tcp'), undefined, 'too short')
  t.equal(decodeInetDiag(diagMsg({ af: 1, port: 0, src: [], ifindex: 0, inode: 0 }), 'tcp'), undefined, 'AF_UNIX')
})

t.test('RTM_GETROUTE: ip route get DST from SRC iif IFINDEX, with an ack', async (t) => {
  // len 52, RTM_GETROUTE (26), REQUEST|ACK; rtmsg AF_INET /32 /32; RTA_DST, RTA_SRC, RTA_IIF.
  t.equal(hex(encodeRouteGet({ dst: '192.0.2.7', src: '198.51.100.1', iif: 3 })), '340000001a000500000000000000000002202000000000000000000008000100c000020708000200c633640108000300' + '03000000')
  t.equal(hex(encodeRouteGet({ dst: '2001:db8::1' })).slice(32, 40), '0a800000', 'IPv6: /128, no source')
  t.throws(() => encodeRouteGet({ dst: 'nope' }), SpecError)
  t.throws(() => encodeRouteGet({ dst: '192.0.2.1', src: '2001:db8::1' }), SpecError, 'mixed families')
})
