/**
 * Property test of the decoders of kernel replies (rtnetlink links, addresses, routes, fdb, tc; nftables
 * notifications and learned sets; NLMSG_ERROR/DONE; message and attribute splitting): random bytes,
 * captured messages cut short or with bytes flipped, and well-framed attributes of random types and
 * payloads. Each returns or throws a KvmnetError — never a RangeError from deep inside a Buffer read —
 * and every walk ends (bounded by the input's length).
 * Reproduce a failure: KVMNET_FUZZ_SEED=<seed from the test name> npx tap test/unit/fuzz-netlink-decode.test.ts
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { KvmnetError } from '../../src/errors.js'
import { decodeLink } from '../../src/rtnl/link-message.js'
import { decodeAddress } from '../../src/rtnl/address-message.js'
import { decodeRoute } from '../../src/rtnl/route-message.js'
import { decodeFdb } from '../../src/rtnl/fdb-message.js'
import { decodeClass, decodeFilter, decodeQdisc } from '../../src/rtnl/tc-message.js'
import { AttrIndex, attrMap, attrOffset, findAttr, parseAttrs, stringAt, u32At } from '../../src/rtnl/wire/attrs.js'
import { splitMessages } from '../../src/rtnl/wire/header.js'
import { parseDone, parseNlError } from '../../src/rtnl/wire/nlmsgerr.js'
import { decodeRtnlNotification } from '../../src/watch/rtnl-notification.js'
import { decodeNftNotification } from '../../src/watch/nft-notification.js'
import { decodeLearned, decodeSetTimeout } from '../../src/nft/learned-netlink.js'
import { decodeInetDiag } from '../../src/doctor/sock-diag.js'
import { Rng, fuzzSeed, thrown } from '../helpers/fuzz.js'

const seed = fuzzSeed()
const ITERATIONS = Number(process.env.KVMNET_FUZZ_ITERATIONS ?? 3000)

const captured = ['br-cap', 'vx-cap', 'mv-cap', 'vxl-cap'].map((d) => Buffer.from(readFileSync(new URL(`./fixtures/rtnl-newlink-${d}.hex`, import.meta.url), 'utf8').trim(), 'hex'))

/** Well-framed attributes (some nested) after a fixed header of `fixed` bytes: the decoders get past the framing. */
function framed(rng: Rng, fixed: number, depth = 0): Buffer {
  const parts: Buffer[] = [rng.bytes(fixed)]
  for (let i = 0; i < rng.int(12); i++) {
    const payload = depth < 3 && rng.chance(0.3) ? framed(rng, 0, depth + 1) : rng.bytes(rng.pick([0, 1, 2, 3, 4, 6, 8, 16, 20, rng.int(64)]))
    const h = Buffer.alloc(4)
    h.writeUInt16LE(4 + payload.length, 0)
    h.writeUInt16LE(rng.int(64) | (rng.chance(0.2) ? 0x8000 : 0), 2)
    parts.push(h, payload, Buffer.alloc((4 - (payload.length % 4)) % 4))
  }
  return Buffer.concat(parts)
}

function input(rng: Rng): Buffer {
  switch (rng.int(5)) {
    case 0:
      return rng.bytes(rng.int(48))
    case 1: {
      const c = rng.pick(captured)
      return Buffer.from(c.subarray(0, rng.int(c.length + 1)))
    }
    case 2: {
      const c = Buffer.from(rng.pick(captured))
      for (let i = 0; i < 1 + rng.int(6); i++) c[rng.int(c.length)] = rng.int(256)
      return c
    }
    default:
      return framed(rng, rng.pick([0, 4, 8, 12, 16, 20, 24, 72]))
  }
}

const decoders: [string, (b: Buffer, rng: Rng) => unknown][] = [
  ['decodeLink', (b) => decodeLink(b)],
  ['decodeAddress', (b) => decodeAddress(b)],
  ['decodeRoute', (b) => decodeRoute(b)],
  ['decodeFdb', (b) => decodeFdb(b)],
  ['decodeQdisc', (b) => decodeQdisc(b)],
  ['decodeClass', (b) => decodeClass(b)],
  ['decodeFilter', (b) => decodeFilter(b)],
  ['decodeRtnlNotification', (b, rng) => decodeRtnlNotification(rng.pick([16, 17, 20, 21, 36, 37, 40, 44, 99]), b)],
  ['decodeNftNotification', (b, rng) => decodeNftNotification((10 << 8) | rng.int(24), b)],
  ['decodeSetTimeout', (b) => decodeSetTimeout(b)],
  ['decodeLearned', (b, rng) => decodeLearned([b], rng.pick([4, 6] as const), rng.int(100))],
  ['decodeInetDiag', (b, rng) => decodeInetDiag(b, rng.pick(['udp', 'tcp'] as const))],
  ['splitMessages', (b) => splitMessages(b)],
  ['parseNlError', (b, rng) => parseNlError(b, rng.int(0x400))],
  ['parseDone', (b, rng) => parseDone(b, rng.int(0x400))],
  ['parseAttrs', (b, rng) => parseAttrs(b, rng.int(b.length + 1))],
  ['attrMap', (b) => attrMap(b)],
  ['findAttr', (b, rng) => findAttr(b, rng.int(64))],
  ['attrOffset', (b, rng) => {
    const off = attrOffset(b, rng.int(64))
    return [stringAt(b, off), u32At(b, off)]
  }],
  ['AttrIndex', (b, rng) => {
    const a = new AttrIndex(b, rng.int(b.length + 1))
    const ty = rng.int(64)
    return [a.get(ty), a.u32(ty), a.s32(ty), a.u8(ty), a.string(ty), a.nested(ty)?.get(rng.int(64))]
  }],
]

t.test(`kernel replies cut short or garbled: decoded, or a KvmnetError (seed ${seed})`, async (t) => {
  const rng = new Rng(seed)
  const failed = new Set<string>()
  for (let i = 0; i < ITERATIONS; i++) {
    const b = input(rng)
    for (const [name, decode] of decoders) {
      if (failed.has(name)) continue
      const started = performance.now()
      const err = thrown(() => decode(b, new Rng(seed + i)))
      if (performance.now() - started > 500) {
        failed.add(name)
        t.fail(`${name} (seed ${seed}, iteration ${i}): slow on ${b.toString('hex')}`)
      } else if (err !== undefined && !(err instanceof KvmnetError)) {
        failed.add(name)
        t.fail(`${name} (seed ${seed}, iteration ${i}): ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} on ${b.toString('hex')}`)
      }
    }
  }
  t.pass(`${decoders.length - failed.size} of ${decoders.length} decoders held`)
})

t.test('found by this test: short messages, a huge echoed length, an odd-sized address are typed errors', async (t) => {
  // Each threw a RangeError (or ipaddr's plain Error) from inside a Buffer read.
  const eproto = (fn: () => unknown, what: string) => {
    const err = thrown(fn)
    t.type(err, KvmnetError, what)
    t.equal((err as { code?: string }).code, 'EPROTO', `${what}: EPROTO`)
  }
  eproto(() => decodeLink(Buffer.alloc(11)), 'an 11-byte link message')
  eproto(() => decodeAddress(Buffer.alloc(5)), 'a 5-byte address message')
  eproto(() => decodeRoute(Buffer.alloc(8)), 'an 8-byte route message')
  eproto(() => decodeFdb(Buffer.alloc(11)), 'an 11-byte neighbour message')
  eproto(() => decodeQdisc(Buffer.alloc(8)), 'an 8-byte tc message')
  // A route whose RTA_GATEWAY has 3 bytes.
  const route = Buffer.concat([Buffer.from([2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]), Buffer.from([7, 0, 5, 0, 10, 0, 0, 0])])
  eproto(() => decodeRoute(route), 'a 3-byte gateway')
  // NLMSG_ERROR with ack TLVs whose echoed request claims 0xfffffff0 bytes.
  const err = Buffer.alloc(4 + 16 + 8)
  err.writeInt32LE(-1, 0)
  err.writeUInt32LE(0xfffffff0, 4)
  t.same(parseNlError(err, 0x200), { errno: 1, request: { len: 0xfffffff0, type: 0, flags: 0, seq: 0, pid: 0 }, message: undefined, offset: undefined })
})
