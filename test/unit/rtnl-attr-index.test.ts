/**
 * AttrIndex's typed readers (what decodeLink and decodeQdisc read a dump with) against the plain
 * attribute helpers: the same values, the same undefined for absent or short attributes, the first of a
 * repeated type, strings cut at their NUL or at the attribute's end, and nothing read past a truncated tail.
 */
import t from 'tap'
import { AttrIndex, attr, attrMap, attrString, attrU32, nested, readS32, readString, readU32, readU8 } from '../../src/rtnl/wire/attrs.js'
import { bytesToMac, macToBytes } from '../../src/rtnl/wire/mac.js'

t.test('typed readers agree with the Buffer helpers', async (t) => {
  const buf = Buffer.concat([
    attrU32(1, 0xfffffffe),
    attrString(2, 'kvbr-x'),
    attr(3, Uint8Array.of(7)),
    attr(4, Uint8Array.of(1, 2)),
    attrU32(1, 5),
    nested(5, [attrString(1, 'tun'), nested(2, [attr(8, Uint8Array.of(1))])]),
    attr(6, Buffer.from('no-nul')),
  ])
  const a = new AttrIndex(buf)
  const m = attrMap(buf)
  t.equal(a.u32(1), readU32(m.get(1)), 'u32: the first of a repeated type')
  t.equal(a.u32(1), 0xfffffffe)
  t.equal(a.s32(1), readS32(m.get(1)), 's32')
  t.equal(a.string(2), readString(m.get(2)), 'string up to its NUL')
  t.equal(a.string(6), 'no-nul', 'a string without NUL ends with its attribute')
  t.equal(a.u8(3), readU8(m.get(3)))
  t.equal(a.u32(4), undefined, 'a short attribute is no u32')
  t.equal(a.u32(9), undefined, 'absent')
  t.equal(a.string(9), undefined)
  t.same(a.get(2), m.get(2), 'get cuts the same bytes')
  const info = a.nested(5)
  t.equal(info?.string(1), 'tun')
  t.equal(info?.nested(2)?.u8(8), 1, 'nested twice')
  t.equal(a.nested(9), undefined)
})

t.test('a truncated tail hides nothing before it and reads nothing past it', async (t) => {
  const whole = Buffer.concat([attrString(1, 'st0'), attrU32(2, 42)])
  const cut = whole.subarray(0, whole.length - 2)
  const a = new AttrIndex(cut)
  t.equal(a.string(1), 'st0')
  t.equal(a.u32(2), undefined)
  // A window of a larger buffer: the string's NUL search stops at the window's attribute.
  const inner = Buffer.concat([attr(1, Buffer.from('abc')), attr(2, Buffer.from('\0'))])
  t.equal(new AttrIndex(inner, 0, 8).string(1), 'abc', 'the NUL of the next attribute is not this one')
})

t.test('bytesToMac formats what macToBytes parses', async (t) => {
  for (const mac of ['00:00:00:00:00:00', 'fe:54:00:a8:4d:b3', 'ff:ff:ff:ff:ff:ff', '52:54:00:0a:0b:0c']) t.equal(bytesToMac(macToBytes(mac)), mac)
  t.equal(bytesToMac(Buffer.alloc(0)), '', 'no bytes, no address')
})
