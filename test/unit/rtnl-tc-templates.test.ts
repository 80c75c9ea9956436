/**
 * The tc encoders keep each message shape once and copy it per device (tc-message.ts templates): every copy
 * must be the message encoded for its own device and redirect target, byte for byte what `tc` sends (the
 * golden captures, device 3 and IFB 6), whatever was encoded before it, and a copy the socket stamps
 * (seq, pid, flags) must not change the next one.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeFilter, encodeAddU32Filter, encodeReplaceHtbClass, encodeReplaceQdisc } from '../../src/rtnl/tc-message.js'
import { decodeTcMsg } from '../../src/rtnl/wire/tcmsg.js'

const captured = JSON.parse(readFileSync(fileURLToPath(new URL('./fixtures/tc-capture.json', import.meta.url)), 'utf8')) as Record<string, { hex: string }>
const golden = (name: string): Buffer => {
  const b = Buffer.from(captured[name]!.hex, 'hex')
  b.writeUInt32LE(0, 8)
  return b
}

const decodeTcMsgOf = (msg: Buffer) => decodeTcMsg(msg.subarray(16))
const H = 0x4b510000
const KIB = 1024
type Shape = [name: string, encode: (dev: number, ifb: number) => Buffer]
const shapes: Shape[] = [
  ['qdisc-htb', (dev) => encodeReplaceQdisc({ kind: 'htb', dev, handle: H, defaultClass: 1 })],
  ['class', (dev) => encodeReplaceHtbClass({ dev, classid: H | 1, parent: H, rate: 1000 * KIB, ceil: 2000 * KIB, burst: 65536, cburst: 65536 })],
  ['class-default', (dev) => encodeReplaceHtbClass({ dev, classid: H | 2, parent: H | 1, rate: 8 * KIB, ceil: 1000 * KIB })],
  ['class-rate64', (dev) => encodeReplaceHtbClass({ dev, classid: H | 3, parent: H, rate: 40e9, ceil: 40e9, burst: 1048576, cburst: 1048576 })],
  ['ingress', (dev) => encodeReplaceQdisc({ kind: 'ingress', dev })],
  ['redirect', (dev, ifb) => encodeAddU32Filter({ dev, parent: 0xffff0000, prio: 1, match: { all: true }, redirectTo: ifb })],
  ['macfilter', (dev) => encodeAddU32Filter({ dev, parent: H, prio: 2, match: { dstMac: '52:54:00:12:34:56' }, flowid: H | 3 })],
  ['srcmacfilter', (dev) => encodeAddU32Filter({ dev, parent: H, prio: 3, match: { srcMac: '52:54:00:12:34:56' }, flowid: H | 3 })],
]

t.test('each shape, interleaved with the others and on other devices, is its golden message with its own devices', async (t) => {
  for (let round = 0; round < 3; round++) {
    for (const [name, encode] of shapes) {
      const dev = 1000 + round * 17
      const ifb = 70000 + round
      const got = encode(dev, ifb)
      const want = golden(name)
      t.equal(got.length, want.length, `${name}: length`)
      t.equal(decodeTcMsgOf(got).ifindex, dev, `${name}: tcm_ifindex`)
      // Apart from the device (and the redirect target), the bytes are tc's.
      const differ = [...got.keys()].filter((i) => got[i] !== want[i] && !(i >= 20 && i < 24))
      if (name === 'redirect') {
        t.equal(decodeFilter(got.subarray(16)).redirectTo, ifb, 'redirect target')
        t.ok(differ.length <= 4 && differ.every((i) => i >= differ[0]! && i < differ[0]! + 4), 'only the target differs')
      } else t.same(differ, [], `${name}: only the device differs`)
      // With the golden's own devices: the golden, byte for byte.
      t.equal(encode(3, 6).toString('hex'), want.toString('hex'), `${name}: golden`)
    }
  }
})

t.test('a copy changed after it is returned (as the socket stamps it) leaves the next ones alone', async (t) => {
  for (const [name, encode] of shapes) {
    const first = encode(3, 6)
    first.writeUInt32LE(0xdeadbeef, 8)
    first.writeUInt32LE(0xfeedface, 12)
    first.writeUInt16LE(0xffff, 6)
    first.fill(0xaa, 24)
    t.equal(encode(3, 6).toString('hex'), golden(name).toString('hex'), name)
  }
})
