/**
 * The learning sets read over netlink (learned-netlink.ts) against nft itself as the oracle: the same
 * entries parseLearned makes of `nft -j list set` of both sets (ifname, lower-case MAC, address text in
 * inet_ntop's forms, expiry, the set's timeout), the same merged addresses when one port shows an address
 * under two MACs, [] without a learning table, and an error (not []) when a set of the table is missing.
 */
import t from 'tap'
import { execa } from 'execa'
import { Nft, learnTableName, parseLearned, type LearnedAddress } from '../../src/nft/index.js'
import { nftQuery } from '../../src/nft/run.js'
import { mergeAddresses } from '../../src/network/addresses.js'
import { makeNs } from '../helpers/ns.js'

const v6 = ['fd00:40::2', 'fe80::5054:ff:fe00:1', '2001:db8::', '2001:db8:0:1:0:0:0:1', '2001:0:0:1::1', '::1', '::ffff:192.0.2.7', '::192.0.2.8', '1:2:3:4:5:6:7:8', '2001:db8:0:0:1:0:0:1']

t.test('learned over netlink = parseLearned of nft -j list set, for both families and odd addresses', async (t) => {
  const ns = await makeNs(t, 'kvt-ln')
  const ref = { path: ns.path, name: ns.name }
  const nft = new Nft(ref)
  t.same(await nft.learned('kvtl', 'bridge'), [], 'no table, nothing learned')
  await nft.applyLearning({ tag: 'kvtl', family: 'bridge', ports: ['kvtl-p0', 'kvtl-p1'], timeout: 60 })
  const table = learnTableName('kvtl')
  const v4 = ['"kvtl-p0" . 52:54:00:AA:00:01 . 10.40.1.1', '"kvtl-p0" . 52:54:00:00:00:02 . 10.40.1.1 timeout 30s expires 20s', '"kvtl-p1" . 52:54:00:00:00:03 . 192.0.2.255', '"a-fifteen-chars" . 02:00:00:00:00:04 . 0.0.0.1']
  const six = v6.map((a, i) => `"kvtl-p${i % 2}" . 52:54:00:00:01:${i.toString(16).padStart(2, '0')} . ${a}`)
  await ns.run('nft', ['-f', '-'], { input: `add element bridge ${table} v4 { ${v4.join(', ')} }\nadd element bridge ${table} v6 { ${six.join(', ')} }\n` })

  const got = await nft.learned('kvtl', 'bridge')
  const oracle: LearnedAddress[] = []
  for (const set of ['v4', 'v6']) oracle.push(...parseLearned(await nftQuery(ref, ['list', 'set', 'bridge', table, set], { backend: 'process' })))
  t.equal(got.length, v4.length + v6.length, 'every element read')
  // Expiry is read at two moments: a second may tick between them.
  const key = (e: LearnedAddress) => `${e.family} ${e.ifname} ${e.mac} ${e.address}`
  const byKey = new Map(oracle.map((e) => [key(e), e]))
  for (const e of got) {
    const o = byKey.get(key(e))
    t.ok(o, `nft lists ${key(e)} too`)
    if (!o) continue
    t.equal(e.timeout, o.timeout, `${key(e)}: the set's timeout`)
    t.ok(Math.abs(e.expires - o.expires) <= 1, `${key(e)}: expires ${e.expires} s, nft says ${o.expires} s`)
  }
  t.same(got.map(key).sort(), oracle.map(key).sort(), 'the same entries')
  const now = Date.now()
  const strip = (l: LearnedAddress[]) => l.map((e) => ({ ...e, expires: Math.min(e.expires, 19) }))
  t.same(mergeAddresses([{ name: 'kvtl-p0' }, { name: 'kvtl-p1' }], [], strip(got), now), mergeAddresses([{ name: 'kvtl-p0' }, { name: 'kvtl-p1' }], [], strip(oracle), now), 'merged the same, one address under two MACs included')

  t.same(got.map(key), oracle.map(key), "in nft's order")

  // A table of that name with one set only (not one kvmnet made whole).
  const other = learnTableName('kvtx')
  await ns.run('nft', ['-f', '-'], { input: `add table bridge ${other}\nadd set bridge ${other} v4 { type ifname . ether_addr . ipv4_addr; flags timeout; }\n` })
  await t.rejects(nft.learned('kvtx', 'bridge'), /NFT_MSG_GETSET/, 'a table missing a set is an error, not an empty list')
})

t.test('netdev family (macvtap networks): the same read', async (t) => {
  const ns = await makeNs(t, 'kvt-ln')
  await execa('ip', ['-n', ns.name, 'tuntap', 'add', 'kvtd0', 'mode', 'tap'])
  const ref = { path: ns.path, name: ns.name }
  const nft = new Nft(ref)
  await nft.applyLearning({ tag: 'kvtd', family: 'netdev', devices: ['kvtd0'], timeout: 60 })
  const table = learnTableName('kvtd')
  await ns.run('nft', ['-f', '-'], { input: `add element netdev ${table} v4 { "kvtd0" . 52:54:00:00:02:01 . 10.41.0.2 }\nadd element netdev ${table} v6 { "kvtd0" . 52:54:00:00:02:01 . fd00:41::2 }\n` })
  const got = await nft.learned('kvtd', 'netdev')
  t.same(got.map((e) => [e.ifname, e.mac, e.address, e.family, e.timeout]), [
    ['kvtd0', '52:54:00:00:02:01', '10.41.0.2', 4, 60],
    ['kvtd0', '52:54:00:00:02:01', 'fd00:41::2', 6, 60],
  ])
})
