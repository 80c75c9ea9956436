/**
 * The cheap attribute readers a link dump goes through (issue 21: a 1000-link dump decoded per `up` was
 * most of what it allocated): AttrIndex by type, findAttr for one type, and the link readers built on them
 * (group before decoding, index and name only), checked against decodeLink on captured kernel replies.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { decodeLink, linkGroupOf, linkIndexAndName } from '../../src/rtnl/link-message.js'
import { AttrIndex, attr, attrU32, findAttr } from '../../src/rtnl/wire/attrs.js'

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
