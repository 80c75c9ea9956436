/**
 * The start-up fast paths for addresses (util/ip-family.ts, util/ipaddr.ts's parseCIDR, spec-addresses'
 * isCidr) answer exactly what they replace: node:net's isIP and ipaddr.js's parseCIDR, compared on a corpus
 * and on random strings; and the spec's address fields keep their typed errors (golden, recorded from the
 * code before the fast paths).
 */
import t from 'tap'
import { isIP as netIsIP } from 'node:net'
import { createRequire } from 'node:module'
import type IpaddrModule from 'ipaddr.js'
import { SpecError } from '../../src/errors.js'
import { validateSpec } from '../../src/network/validate.js'
import { ipaddr, isIP } from '../../src/util/index.js'

const raw = createRequire(import.meta.url)('ipaddr.js') as typeof IpaddrModule

const CORPUS = [
  '', '1', '10', 'abcd', 'ffff', '0', '10.0.0.1', '10.0.0.256', '010.0.0.1', '0x0a.0.0.1', '1.2.3', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ',
  '255.255.255.255', '0.0.0.0', '::', '::1', 'fd00::1', 'fe80::1%eth0', 'fe80::1%', '::ffff:10.0.0.1', '::ffff:10.0.0.256', '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9', '1::2::3', 'zz::1', 'FD00::A', '2001:db8::10.0.0.1', '1:2:3:4:5:6:1.2.3.4', ':1', '1:', '10.0.0.1/24', '10.0.0.1/0',
  '10.0.0.1/32', '10.0.0.1/33', '10.0.0.1/', '/24', '10.0.0.1/24/1', 'fd00::1/64', 'fd00::1/128', 'fd00::1/129', '::ffff:10.0.0.1/120',
  'fe80::1%eth0/64', '0x0a.0.0.1/24', '010.0.0.1/24', '4294967295/8', '10/8', '10.1/16', 'abcd/64', '1.2.3.4%x/24', '%a', '10.0.0.1/024',
]

/** Random strings over the characters addresses are made of (a colon in every other one). */
function fuzz(n: number, seed: number): string[] {
  const alphabets = ['0123456789abcdefABCDEFx.%/z', '0123456789abcdef:.%/']
  let x = seed
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648)
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const a = alphabets[i % 2]!
    let s = ''
    for (let j = 0, len = 1 + (next() % 18); j < len; j++) s += a[next() % a.length]
    out.push(s)
  }
  return out
}

const INPUTS = [...CORPUS, ...fuzz(20000, 42)]

t.test('isIP answers what node:net isIP answers', async (t) => {
  t.same(INPUTS.filter((s) => isIP(s) !== netIsIP(s)), [])
  t.equal(isIP('10.0.0.1'), 4)
  t.equal(isIP('fd00::1'), 6)
  t.equal(isIP('fe80::1%eth0'), 6)
  t.equal(isIP('010.0.0.1'), 0)
})

/** A parse's outcome: the address and length as text, or the error's message. */
function outcome(f: () => [IpaddrModule.IPv4 | IpaddrModule.IPv6, number]): string {
  try {
    const r = f()
    return `${r[0].kind()} ${r[0].toString()} /${r[1]} ${String(r)}`
  } catch (err) {
    return `error: ${(err as Error).message}`
  }
}

t.test("ipaddr.parseCIDR (IPv4 without ipaddr's IPv6 attempt) gives ipaddr.js's results and errors", async (t) => {
  t.same(INPUTS.filter((s) => outcome(() => ipaddr.parseCIDR(s)) !== outcome(() => raw.parseCIDR(s))), [])
  t.equal(outcome(() => ipaddr.parseCIDR('10.0.0.1/24')), 'ipv4 10.0.0.1 /24 10.0.0.1/24')
  t.equal(outcome(() => ipaddr.parseCIDR('fd00::1/64')), 'ipv6 fd00::1 /64 fd00::1/64')
  t.equal(outcome(() => ipaddr.parseCIDR('10.0.0.1')), 'error: ipaddr: the address has neither IPv6 nor IPv4 CIDR format')
})

const ADDRESS_CASES: [field: 'ipv4.address' | 'ipv6.address', value: string, message: string | undefined][] = [
  ["ipv4.address", "10.0.0.1/31", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "10.0.0.1/0", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "fd00::1/64", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "010.0.0.1/24", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "0x0a.0.0.1/24", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "10.0.0.1", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "10.0.0.1/33", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "127.0.0.1/8", "ipv4.address: a unicast host address (not loopback, multicast, broadcast or unspecified)"],
  ["ipv4.address", "224.0.0.1/24", "ipv4.address: a unicast host address (not loopback, multicast, broadcast or unspecified)"],
  ["ipv4.address", "1.0.0.1/7", "ipv4.address: a subnet of unicast addresses: none of its addresses may be in 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 (multicast) or 240.0.0.0/4 (reserved, broadcast)"],
  ["ipv4.address", "abcd/24", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv4.address", "::ffff:10.0.0.1/120", "ipv4.address: an IPv4 address with prefix length 1-30, like 192.168.100.1/24"],
  ["ipv6.address", "10.0.0.1/24", "ipv6.address: an IPv6 address with prefix length 1-126, like fd00:100::1/64"],
  ["ipv6.address", "fd00::1/127", "ipv6.address: an IPv6 address with prefix length 1-126, like fd00:100::1/64"],
  ["ipv6.address", "::ffff:10.0.0.1/120", "ipv6.address: an IPv4 address is written as one, not as an IPv4-mapped IPv6 address (::ffff:a.b.c.d)"],
  ["ipv6.address", "::1/64", "ipv6.address: a unicast host address (not loopback, multicast or unspecified)"],
  // A zone id names a host interface; an address on the bridge has none (refused since ipv6.address was seen to take one).
  ["ipv6.address", "fe80::1%eth0/64", "ipv6.address: an IPv6 address with prefix length 1-126, like fd00:100::1/64"],
  ["ipv6.address", "zz::1/64", "ipv6.address: an IPv6 address with prefix length 1-126, like fd00:100::1/64"],
]

t.test('the address fields keep their typed errors', async (t) => {
  for (const [field, value, message] of ADDRESS_CASES) {
    const spec = { name: 'g', mode: 'nat', ipv4: { address: field === 'ipv4.address' ? value : '10.0.0.1/24' }, ...(field === 'ipv6.address' ? { ipv6: { address: value } } : {}) }
    if (message === undefined) {
      t.ok(validateSpec(spec), `${field} ${value}: accepted`)
      continue
    }
    try {
      validateSpec(spec)
      t.fail(`${field} ${value}: accepted`)
    } catch (err) {
      t.type(err, SpecError)
      t.equal((err as SpecError).field, field)
      t.equal((err as SpecError).message, message, `${field} ${value}`)
    }
  }
})
