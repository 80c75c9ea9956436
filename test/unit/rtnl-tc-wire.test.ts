/**
 * Golden bytes for the traffic-control encoders: each expected message is what iproute2's `tc` (6.1) or
 * `ip` sent for the same object, captured with strace by fixtures/tc-capture.sh (device d0 was ifindex 3,
 * the IFB ifindex 6). Only the sequence number differs (the socket stamps it), so it is zeroed.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  decodeClass,
  decodeFilter,
  decodeQdisc,
  encodeAddU32Filter,
  encodeDeleteClass,
  encodeDeleteFilters,
  encodeDeleteQdisc,
  encodeDumpClasses,
  encodeDumpFilters,
  encodeDumpQdiscs,
  encodeReplaceHtbClass,
  encodeReplaceQdisc,
} from '../../src/rtnl/tc-message.js'
import { encodeCreateLink } from '../../src/rtnl/link-message.js'
import { xmitSize, xmitTime } from '../../src/rtnl/wire/htb.js'
import { u32Keys, u32MatchOf } from '../../src/rtnl/wire/u32.js'

const captured = JSON.parse(readFileSync(fileURLToPath(new URL('./fixtures/tc-capture.json', import.meta.url)), 'utf8')) as Record<string, { cmd: string; hex: string }>

function golden(name: string): Buffer {
  const c = captured[name]
  if (!c) throw new Error(`no capture ${name}`)
  const b = Buffer.from(c.hex, 'hex')
  b.writeUInt32LE(0, 8)
  return b
}

const D0 = 3
const IFB = 6
const H = 0x4b510000
const KIB = 1024

const cases: [string, () => Buffer][] = [
  ['qdisc-htb', () => encodeReplaceQdisc({ kind: 'htb', dev: D0, handle: H, defaultClass: 1 })],
  ['class', () => encodeReplaceHtbClass({ dev: D0, classid: H | 1, parent: H, rate: 1000 * KIB, ceil: 2000 * KIB, burst: 65536, cburst: 65536 })],
  ['class-default', () => encodeReplaceHtbClass({ dev: D0, classid: H | 2, parent: H | 1, rate: 8 * KIB, ceil: 1000 * KIB })],
  ['class-rate64', () => encodeReplaceHtbClass({ dev: D0, classid: H | 3, parent: H, rate: 40e9, ceil: 40e9, burst: 1048576, cburst: 1048576 })],
  ['ingress', () => encodeReplaceQdisc({ kind: 'ingress', dev: D0 })],
  ['redirect', () => encodeAddU32Filter({ dev: D0, parent: 0xffff0000, prio: 1, match: { all: true }, redirectTo: IFB })],
  ['macfilter', () => encodeAddU32Filter({ dev: D0, parent: H, prio: 2, match: { dstMac: '52:54:00:12:34:56' }, flowid: H | 3 })],
  ['srcmacfilter', () => encodeAddU32Filter({ dev: D0, parent: H, prio: 3, match: { srcMac: '52:54:00:12:34:56' }, flowid: H | 3 })],
  ['show-qdisc', () => encodeDumpQdiscs(D0)],
  ['show-class', () => encodeDumpClasses(D0)],
  ['show-filter', () => encodeDumpFilters(D0, 0xffff0000)],
  ['del-filter', () => encodeDeleteFilters(D0, 0xffff0000, 1)],
  ['del-prio2', () => encodeDeleteFilters(D0, H, 2)],
  ['del-class', () => encodeDeleteClass(D0, H | 3)],
  ['del-ingress', () => encodeDeleteQdisc(D0, 'ingress')],
  ['del-root', () => encodeDeleteQdisc(D0, 'root')],
]

for (const [name, encode] of cases) {
  t.test(`${name}: the bytes of \`${captured[name]?.cmd ?? '?'}\``, async (t) => {
    t.equal(encode().toString('hex'), golden(name).toString('hex'))
  })
}

t.test('ifb: the bytes of `ip link add kqifb0 type ifb`, but for the NUL after the kind', async (t) => {
  // ip sends IFLA_INFO_KIND without its terminating NUL (length 7); kvmnet, for every kind, with it
  // (length 8); the kernel compares either the same (nla_strcmp). Everything else is ip's.
  const ip = golden('ifb')
  t.equal(ip.subarray(44).toString('hex'), '0c0012000700010069666200')
  const want = Buffer.concat([ip.subarray(0, 44), Buffer.from('0c0012000800010069666200', 'hex')])
  t.equal(encodeCreateLink({ kind: 'ifb', name: 'kqifb0' }).toString('hex'), want.toString('hex'))
  t.match(encodeCreateLink({ kind: 'ifb', name: 'kqifb0', txQueueLen: 1000 }).toString('hex'), /08000d00e8030000/)
})

t.test('every capture has an encoder', async (t) => {
  const covered = new Set(cases.map(([n]) => n))
  t.same(Object.keys(captured).filter((n) => !covered.has(n) && n !== 'del-prio3' && n !== 'ifb'), [])
})

t.test('rate tables: ticks of 64 ns, as tc computes them', async (t) => {
  // 1500 bytes at 1 MB/s: 1.5 ms = 1500 us = 23437.5 ticks, whole ticks.
  t.equal(xmitTime(1e6, 1500), 23437)
  t.equal(xmitSize(1e6, 23437), 1499)
})

t.test('decoders read back what the encoders wrote (requests carry the same tcmsg and attributes as dumps)', async (t) => {
  const q = decodeQdisc(encodeReplaceQdisc({ kind: 'htb', dev: D0, handle: H, defaultClass: 7 }).subarray(16))
  t.same(q, { dev: D0, kind: 'htb', handle: H, parent: 0xffffffff, defaultClass: 7 })
  const c = decodeClass(encodeReplaceHtbClass({ dev: D0, classid: H | 1, parent: H, rate: 1000 * KIB, ceil: 2000 * KIB, burst: 65536, cburst: 65536 }).subarray(16))
  t.same(c, { dev: D0, kind: 'htb', classid: H | 1, parent: H, htb: { rate: 1024000, ceil: 2048000, burst: 65536, cburst: 65536 } })
  const big = decodeClass(encodeReplaceHtbClass({ dev: D0, classid: H | 3, parent: H, rate: 40e9 }).subarray(16))
  t.equal(big.htb?.rate, 40e9)
  const r = decodeFilter(encodeAddU32Filter({ dev: D0, parent: 0xffff0000, prio: 1, match: { all: true }, redirectTo: IFB }).subarray(16))
  t.same(r, { dev: D0, parent: 0xffff0000, prio: 1, kind: 'u32', handle: 0, match: { all: true }, flowid: undefined, redirectTo: IFB })
  const m = decodeFilter(encodeAddU32Filter({ dev: D0, parent: H, prio: 2, match: { dstMac: '52:54:00:ab:cd:ef' }, flowid: H | 9 }).subarray(16))
  t.same(m.match, { dstMac: '52:54:00:ab:cd:ef' })
  t.equal(m.flowid, H | 9)
})

t.test('MAC matches round-trip through the keys', async (t) => {
  for (const mac of ['52:54:00:12:34:56', 'fe:ff:00:00:00:01', '02:00:00:00:ff:ff']) {
    t.same(u32MatchOf(u32Keys({ dstMac: mac })), { dstMac: mac })
    t.same(u32MatchOf(u32Keys({ srcMac: mac })), { srcMac: mac })
  }
  t.equal(u32MatchOf([{ mask: 0xff, val: 1, off: 8 }]), undefined)
})
