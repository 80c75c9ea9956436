/** The NFT_MSG_GETCHAIN dump request and the decoding of chains the kernel sent (captured from a real dump). */
import t from 'tap'
import { chainOutside, decodeChain, encodeGetChains } from '../../src/nft/list-chains.js'

t.test('the dump request: every family, NLM_F_DUMP, subsystem nftables', async (t) => {
  // len 20, type (10 << 8) | 4, flags REQUEST | DUMP, seq/pid filled in by the socket, nfgenmsg AF_UNSPEC.
  t.equal(encodeGetChains().toString('hex'), '14000000040a0103000000000000000000000000')
})

t.test('base chains from a real dump', async (t) => {
  const inetForwardDrop = Buffer.from(
    '0100000f0a00010066746573740000000a0003006d796677640000000c0002000000000000000001140004000800010000000002080002000000000008000500000000000b00070066696c746572000008000a00000000010800060000000000',
    'hex',
  )
  t.same(decodeChain(inetForwardDrop), { family: 'inet', table: 'ftest', name: 'myfwd', hook: 'forward', policy: 'drop' })
  const bridgePrerouting = Buffer.from(
    '0700000f070001006274000008000300707265000c0002000000000000000001140004000800010000000000080002000000000008000500000000000b00070066696c746572000008000a00000000010800060000000000',
    'hex',
  )
  t.same(decodeChain(bridgePrerouting), { family: 'bridge', table: 'bt', name: 'pre', hook: 'prerouting', policy: 'drop' })
})

t.test('a regular chain has no hook or policy; a message without names is skipped', async (t) => {
  // ip filter DOCKER-USER: table, name, handle only.
  const regular = Buffer.concat([Buffer.from([2, 0, 0, 0]), attr(1, 'filter'), attr(3, 'DOCKER-USER')])
  t.same(decodeChain(regular), { family: 'ip', table: 'filter', name: 'DOCKER-USER' })
  t.equal(decodeChain(Buffer.from([2, 0, 0, 0])), undefined)
})

t.test("chainOutside: judged in the datagram, a chain of kvmnet's tables is left out, every other kept", async (t) => {
  const outside = chainOutside([Buffer.from('kvmnet_'), Buffer.from('kvmnet-addr_')])
  const chain = (table: string) => Buffer.concat([Buffer.from([2, 0, 0, 0]), attr(1, table), attr(3, 'c')])
  // Inside a larger datagram, as the socket hands it: buf[start, end).
  const judge = (table: string) => {
    const msg = chain(table)
    const buf = Buffer.concat([Buffer.alloc(24, 0xff), msg, Buffer.alloc(8, 0xff)])
    return outside(buf, 24, 24 + msg.length)
  }
  t.equal(judge('kvmnet_net1'), false)
  t.equal(judge('kvmnet-addr_net1'), false)
  t.equal(judge('filter'), true)
  t.equal(judge('kvmnet'), true, 'shorter than the prefix')
  t.equal(judge('kvmnetx_a'), true)
  t.equal(outside(Buffer.from([2, 0, 0, 0]), 0, 4), true, 'no table attribute: kept (decodeChain skips it)')
})

function attr(type: number, s: string): Buffer {
  const data = Buffer.from(`${s}\0`)
  const len = 4 + data.length
  const b = Buffer.alloc((len + 3) & ~3)
  b.writeUInt16LE(len, 0)
  b.writeUInt16LE(type, 2)
  data.copy(b, 4)
  return b
}
