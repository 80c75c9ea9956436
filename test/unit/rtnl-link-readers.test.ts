/**
 * The cheap attribute readers a link dump goes through (issue 21: a 1000-link dump decoded per `up` was
 * most of what it allocated): AttrIndex by type, findAttr for one type, and the link readers built on them
 * (group before decoding, index and name only), checked against decodeLink on captured kernel replies.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { decodeLink, linkGroupOf, linkInGroup, linkIndexAndName, linkIndexOf, linkNameOf, linkSelected } from '../../src/rtnl/link-message.js'
import { AttrIndex, attr, attrOffset, attrString, attrU32, findAttr, stringAt, u32At } from '../../src/rtnl/wire/attrs.js'

const fixture = (dev: string): Buffer =>
  Buffer.from(readFileSync(new URL(`./fixtures/rtnl-newlink-${dev}.hex`, import.meta.url), 'utf8').trim(), 'hex')

t.test('AttrIndex and findAttr: first occurrence wins, flags masked, a truncated tail ignored', async (t) => {
  const run = Buffer.concat([attrU32(5, 1), attrU32(0x8000 | 60, 2), attrU32(5, 3), attr(1000, Buffer.from([7])), Buffer.from('ff000100', 'hex')])
  const a = new AttrIndex(run)
  t.equal(a.get(5)!.readUInt32LE(0), 1, 'first of two')
  t.equal(a.get(60)!.readUInt32LE(0), 2, 'NLA_F_NESTED masked off')
  t.same(a.get(1000), Buffer.from([7]), 'a type beyond the usual range')
  t.equal(a.get(6), undefined, 'absent')
  t.equal(findAttr(run, 5)!.readUInt32LE(0), 1)
  t.equal(findAttr(run, 60)!.readUInt32LE(0), 2)
  t.equal(findAttr(run, 6), undefined)
  t.equal(new AttrIndex(Buffer.alloc(0)).get(1), undefined, 'an empty run')
})

t.test('group, index and name read without decoding agree with decodeLink', async (t) => {
  for (const dev of ['br-cap', 'vx-cap', 'mv-cap', 'vxl-cap']) {
    const payload = fixture(dev)
    const l = decodeLink(payload)
    t.equal(linkGroupOf(payload), l.group, `${dev}: group ${l.group}`)
    t.same(linkIndexAndName(payload), [l.index, l.name], `${dev}: index and name`)
  }
})

t.test('attrOffset, stringAt, u32At: in place, the same answers as findAttr', async (t) => {
  const run = Buffer.concat([attrU32(5, 1), attrString(3, 'br0'), attrU32(0x8000 | 60, 2), Buffer.from('ff000100', 'hex')])
  t.equal(u32At(run, attrOffset(run, 5)), 1)
  t.equal(u32At(run, attrOffset(run, 60)), 2, 'NLA_F_NESTED masked off')
  t.equal(stringAt(run, attrOffset(run, 3)), 'br0', 'up to the NUL')
  t.equal(attrOffset(run, 6), -1, 'absent')
  t.equal(stringAt(run, -1), undefined)
  t.equal(u32At(run, -1), undefined)
  t.equal(u32At(Buffer.concat([attr(7, Buffer.from([1, 2]))]), 0), undefined, 'a u32 attribute too short to hold one')
  t.equal(attrOffset(run, 5, 8), -1, 'from a start offset on')
})

t.test('a selection (anyOf) is decided in place, and in a datagram at an offset', async (t) => {
  for (const dev of ['br-cap', 'vx-cap', 'mv-cap', 'vxl-cap']) {
    const payload = fixture(dev)
    const l = decodeLink(payload)
    t.equal(linkIndexOf(payload), l.index, `${dev}: index`)
    t.equal(linkNameOf(payload), l.name, `${dev}: name`)
    t.ok(linkSelected(payload, { names: new Set(['nope', l.name]) }), `${dev}: by name`)
    t.ok(linkSelected(payload, { group: l.group }), `${dev}: by group`)
    if (l.alias !== undefined) t.ok(linkSelected(payload, { aliases: new Set([l.alias]) }), `${dev}: by alias`)
    t.notOk(linkSelected(payload, { names: new Set(['nope']), aliases: new Set(['nope']), group: l.group + 1 }), `${dev}: nothing matches`)
    t.notOk(linkSelected(payload, {}), `${dev}: an empty selection selects nothing`)
    t.ok(linkInGroup(payload, l.group), `${dev}: in its group`)
    t.notOk(linkInGroup(payload, l.group + 1), `${dev}: not in another`)
    // The same message after 20 bytes of something else (a datagram's earlier message and a header).
    const framed = Buffer.concat([Buffer.alloc(20, 0xee), payload, Buffer.alloc(8, 0xee)])
    const start = 20
    const end = 20 + payload.length
    t.equal(linkIndexOf(framed, start), l.index, `${dev}: index at an offset`)
    t.ok(linkSelected(framed, { names: new Set([l.name]) }, start, end), `${dev}: name at an offset`)
    t.ok(linkInGroup(framed, l.group, start, end), `${dev}: group at an offset`)
    t.notOk(linkInGroup(framed, l.group + 1, start, end), `${dev}: not another group at an offset`)
  }
})
