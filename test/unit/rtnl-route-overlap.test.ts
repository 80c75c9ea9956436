/**
 * The in-datagram route filter a subnet check dumps through (issue 21: a hundred networks' routes were
 * decoded twice per `up` for the one or two that can matter) and the byte-level link selector a full link
 * dump goes through: each agrees with decoding the message and comparing the decoded fields.
 */
import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { linkSelected, linkSelector } from '../../src/rtnl/link-message.js'
import { encodeAddRoute, decodeRoute } from '../../src/rtnl/route-message.js'
import { bytePrefixes, routeOverlapsAny } from '../../src/rtnl/route-overlap.js'
import { parseRouteSpec } from '../../src/rtnl/route-validate.js'
import { attrString, attrU32 } from '../../src/rtnl/wire/attrs.js'
import { IFLA_GROUP, IFLA_IFALIAS, IFLA_IFNAME, NLMSG_HDRLEN } from '../../src/rtnl/wire/constants.js'
import { encodeIfInfoMsg } from '../../src/rtnl/wire/ifinfomsg.js'
import { ipaddr } from '../../src/util/index.js'

/** A route message's payload (after the nlmsghdr), as the kernel's dump carries it. */
function routePayload(dst: string): Buffer {
  const msg = encodeAddRoute({ ...parseRouteSpec({ dst, dev: 'x' }), dev: 7 })
  return msg.subarray(NLMSG_HDRLEN)
}

function overlapsByDecoding(payload: Buffer, cidrs: string[]): boolean {
  const r = decodeRoute(payload)!
  return cidrs.some((c) => {
    const [net, len] = ipaddr.parseCIDR(c)
    if (r.dst === 'default') return r.family === (net.kind() === 'ipv4' ? 4 : 6)
    const [other, olen] = ipaddr.parseCIDR(r.dst)
    if (other.kind() !== net.kind()) return false
    return net.match(other, Math.min(len, olen))
  })
}

t.test('routeOverlapsAny agrees with decoding and comparing the prefixes', async (t) => {
  const routes = ['10.0.5.0/24', '10.0.0.0/16', '10.0.5.128/25', '10.1.5.0/24', '192.0.2.0/24', '0.0.0.0/0', '10.0.4.0/23', '10.0.6.0/23', '10.0.5.7/32', '2001:db8::/64', '2001:db8:0:1::/64', '2001:db8::/32', '::/0', 'fe80::/64']
  const wanted = [['10.0.5.0/24'], ['2001:db8::/64'], ['10.0.5.0/24', '2001:db8:1::/48'], ['10.0.0.0/8'], ['192.0.2.0/25']]
  for (const w of wanted) {
    const prefixes = bytePrefixes(w, 'f')
    for (const dst of routes) {
      const p = routePayload(dst)
      t.equal(routeOverlapsAny(p, 0, p.length, prefixes), overlapsByDecoding(p, w), `${dst} against ${w.join(', ')}`)
    }
  }
})

t.test('routeOverlapsAny reads the message at an offset inside a datagram', async (t) => {
  const p = routePayload('10.0.5.0/24')
  const framed = Buffer.concat([Buffer.alloc(20, 0xee), p, Buffer.alloc(12, 0xee)])
  t.ok(routeOverlapsAny(framed, 20, 20 + p.length, bytePrefixes(['10.0.0.0/16'], 'f')))
  t.notOk(routeOverlapsAny(framed, 20, 20 + p.length, bytePrefixes(['10.1.0.0/16'], 'f')))
})

t.test('bytePrefixes refuses what is not a prefix, naming the field', async (t) => {
  t.throws(() => bytePrefixes(['10.0.0.0'], 'overlapping'), SpecError)
  t.throws(() => bytePrefixes(['nope/24'], 'overlapping'), /overlapping/)
})

function linkPayload(name: string, alias?: string, group?: number): Buffer {
  return Buffer.concat([encodeIfInfoMsg({ index: 3 }), attrString(IFLA_IFNAME, name), ...(alias !== undefined ? [attrString(IFLA_IFALIAS, alias)] : []), ...(group !== undefined ? [attrU32(IFLA_GROUP, group)] : [])])
}

t.test('linkSelector compares names and aliases as bytes, as a lookup of the decoded strings would', async (t) => {
  const names = new Set(['kvbr-a', 'ab', 'p0', 'héllo', 'p01'])
  const aliases = new Set(['kvmnet:net-a:bridge'])
  const sel = linkSelector({ names, aliases, group: 42 })
  const cases: [string, string | undefined, number | undefined, boolean][] = [
    ['kvbr-a', undefined, undefined, true],
    ['kvbr-b', undefined, undefined, false],
    ['p0', undefined, undefined, true],
    ['p1', undefined, undefined, false],
    ['p01', undefined, undefined, true],
    ['p0x', undefined, undefined, false],
    ['héllo', undefined, undefined, true],
    ['hello', undefined, undefined, false],
    ['x', 'kvmnet:net-a:bridge', undefined, true],
    ['x', 'kvmnet:net-a:bridgeX', undefined, false],
    ['x', undefined, 42, true],
    ['x', undefined, 41, false],
  ]
  for (const [name, alias, group, want] of cases) {
    const p = linkPayload(name, alias, group)
    const framed = Buffer.concat([Buffer.alloc(8, 0xee), p, Buffer.alloc(8, 0xee)])
    t.equal(sel(framed, 8, 8 + p.length), want, `${name} ${alias ?? ''} ${group ?? ''}`)
    t.equal(linkSelected(p, { names, aliases, group: 42 }), want, `${name}: linkSelected agrees`)
  }
  t.notOk(linkSelector({})(linkPayload('p0'), 0, linkPayload('p0').length), 'an empty selection selects nothing')
})
