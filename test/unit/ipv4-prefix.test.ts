/**
 * util/ipv4-prefix.ts, the numeric IPv4 overlap check assertSubnetFree runs against every route of its
 * namespace, answers what ipaddr.js answered there: the same address and length wherever it parses (it
 * parses every canonical dotted quad, and nothing ipaddr refuses), and the same overlap verdict
 * (`a.match(b) || b.match(a)`) on random pairs.
 */
import t from 'tap'
import { createRequire } from 'node:module'
import type IpaddrModule from 'ipaddr.js'
import { ipv4Prefix, ipv4PrefixesOverlap } from '../../src/util/index.js'

const raw = createRequire(import.meta.url)('ipaddr.js') as typeof IpaddrModule

const CORPUS = [
  '', '10.0.0.1', '10.0.0.1/24', '10.0.0.1/0', '10.0.0.1/32', '10.0.0.1/33', '10.0.0.1/', '/24', '10.0.0.1/24/1', '10.0.0.256/24',
  '010.0.0.1/24', '0x0a.0.0.1/24', '10.0.0.1/024', '10/8', '10.1/16', '1.2.3.4.5/8', ' 1.2.3.4/8', '1.2.3.4/8 ', '1..3.4/8',
  '255.255.255.255/32', '0.0.0.0/0', 'fd00::1/64', '::ffff:10.0.0.1/120', '1.2.3.4%x/24', '1.2.3.-4/24', '1.2.3.4/-1', '1.2.3.4/+8',
]

function rng(seed: number): () => number {
  let x = seed
  return () => (x = (x * 1103515245 + 12345) % 2147483648)
}

t.test('where it parses, the same address and length as ipaddr.js; never what ipaddr refuses', async (t) => {
  const next = rng(7)
  const alphabet = '0123456789./x:'
  const fuzz = Array.from({ length: 20000 }, () => Array.from({ length: 1 + (next() % 18) }, () => alphabet[next() % alphabet.length]).join(''))
  // Near misses: dotted quads of parts that are octets or almost.
  const parts = ['0', '00', '01', '9', '10', '99', '100', '199', '255', '256', '999', '1000', '', 'x']
  const lens = ['0', '8', '32', '33', '08', '', '-1', '100']
  const pick = <T>(a: readonly T[]): T => a[next() % a.length]!
  const near = Array.from({ length: 20000 }, () => `${pick(parts)}.${pick(parts)}.${pick(parts)}.${pick(parts)}/${pick(lens)}`)
  let parsed = 0
  for (const s of [...CORPUS, ...fuzz, ...near]) {
    const mine = ipv4Prefix(s)
    if (!mine) continue
    parsed++
    t.ok(raw.IPv4.isValidCIDR(s), `${s} is an IPv4 CIDR to ipaddr too`)
    const [addr, len] = raw.IPv4.parseCIDR(s)
    t.equal(mine.addr, addr.toByteArray().reduce((n, b) => n * 256 + b, 0), `${s}: address`)
    t.equal(mine.len, len, `${s}: length`)
  }
  t.ok(parsed > 1000, `the corpus and fuzz reach the parsing path (${parsed} parsed)`)
})

t.test('every canonical dotted quad parses (what the kernel\'s routes and a validated spec hold)', async (t) => {
  const next = rng(11)
  for (let i = 0; i < 2000; i++) {
    const s = `${next() % 256}.${next() % 256}.${next() % 256}.${next() % 256}/${next() % 33}`
    t.ok(ipv4Prefix(s), s)
  }
  t.same(ipv4Prefix('0.0.0.0/0'), { addr: 0, len: 0 })
  t.same(ipv4Prefix('255.255.255.255/32'), { addr: 2 ** 32 - 1, len: 32 })
})

t.test('overlap: the verdict of ipaddr\'s match both ways, on random pairs near each other', async (t) => {
  const next = rng(3)
  let overlaps = 0
  for (let i = 0; i < 5000; i++) {
    // Addresses in a small space, so that both verdicts occur often.
    const a = `10.${next() % 4}.${next() % 4}.${next() % 256}/${8 + (next() % 25)}`
    const b = `10.${next() % 4}.${next() % 4}.${next() % 256}/${8 + (next() % 25)}`
    const [na, la] = raw.IPv4.parseCIDR(a)
    const [nb, lb] = raw.IPv4.parseCIDR(b)
    const want = na.match(nb, lb) || nb.match(na, la)
    if (want) overlaps++
    t.equal(ipv4PrefixesOverlap(ipv4Prefix(a)!, ipv4Prefix(b)!), want, `${a} ~ ${b}`)
  }
  t.ok(overlaps > 100 && overlaps < 4900, `both verdicts occur (${overlaps} overlaps)`)
  t.ok(ipv4PrefixesOverlap(ipv4Prefix('0.0.0.0/0')!, ipv4Prefix('192.0.2.1/32')!), '/0 holds everything')
})
