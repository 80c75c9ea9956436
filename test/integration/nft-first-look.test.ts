/**
 * What a full apply reads from nf_tables at its start, on one socket (nft/first-look.ts): which of the
 * network's tables are there, and the same chains as listNftChains — and an apply that uses it still finds
 * a table left by a crash (it replaces it) and the foreign firewall it must warn about.
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nftFirstLook } from '../../src/nft/first-look.js'
import { listNftChains } from '../../src/nft/list-chains.js'
import { createNetwork, Netns } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'

const key = (c: unknown) => JSON.stringify(c)

t.test('nftFirstLook: tables present per kind of table, chains as listNftChains gives them', async (t) => {
  const ns = await makeNs(t, 'k10u')
  const nsRef = Netns.open(ns.name)
  const none = await nftFirstLook(nsRef, 'fl1')
  t.equal(none.rulesPresent, false)
  t.equal(none.learningPresent, false)
  t.same(none.chains, [])
  await ns.run('nft', ['-f', '-'], { input: 'table inet foreign {\n  chain myfwd { type filter hook forward priority 0; policy drop; }\n  chain plain { }\n}\n' })
  await ns.run('nft', ['-f', '-'], { input: 'table bridge kvmnet_fl1 {\n  chain kfwd { type filter hook forward priority 0; policy drop; }\n}\n' })
  const bridgeOnly = await nftFirstLook(nsRef, 'fl1')
  t.equal(bridgeOnly.rulesPresent, true, "the network's bridge-family table alone counts")
  t.equal(bridgeOnly.learningPresent, false)
  // kvmnet's own tables' chains are left out in the datagram (the coexistence check skips them anyway).
  const listed = await listNftChains(nsRef)
  t.ok(listed.some((c) => c.table === 'kvmnet_fl1'))
  t.same(bridgeOnly.chains.map(key).sort(), listed.filter((c) => !c.table.startsWith('kvmnet_')).map(key).sort())
  t.ok(bridgeOnly.chains.some((c) => c.table === 'foreign' && c.hook === 'forward' && c.policy === 'drop'))
  await ns.run('nft', ['add', 'table', 'netdev', 'kvmnet-addr_fl1'])
  const learning = await nftFirstLook(nsRef, 'fl1')
  t.equal(learning.learningPresent, true, 'a learning table of the other family counts')
  t.equal((await nftFirstLook(nsRef, 'other')).rulesPresent, false, "another network's tables do not")
})

t.test('a first up over tables left without a state replaces them, and warns about a foreign drop', async (t) => {
  const ns = await makeNs(t, 'k10u')
  const stateRoot = await mkdtemp(join(tmpdir(), 'kvmnet-k10u-'))
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }))
  // A crash's leftovers (no state records them): a stale rule in the network's table, and its learning
  // table in the family a bridge network does not use.
  await ns.run('nft', ['-f', '-'], { input: 'table inet kvmnet_fl2 {\n  chain mystale { }\n}\ntable netdev kvmnet-addr_fl2 {\n}\ntable ip foreign {\n  chain myfwd { type filter hook forward priority 0; policy drop; }\n}\n' })
  const net = createNetwork({ name: 'fl2', mode: 'nat', ipv4: { address: '10.253.0.1/24' }, dns: { enabled: false }, ports: [{ name: 'k10up0' }] }, { netns: Netns.open(ns.name), stateRoot })
  const warnings: string[] = []
  net.on('warning', (w: { code: string }) => warnings.push(w.code))
  await net.up()
  const tables = await ns.run('nft', ['list', 'tables'])
  t.notOk(/kvmnet_fl2[\s\S]*chain mystale/.test(await ns.run('nft', ['list', 'table', 'inet', 'kvmnet_fl2'])), 'the stale chain is gone')
  t.notOk(tables.includes('netdev kvmnet-addr_fl2'), "the other family's learning table is gone")
  t.ok(tables.includes('bridge kvmnet-addr_fl2'), 'the learning table is made')
  t.ok(warnings.includes('nft-foreign-drop'), `warned: ${warnings.join(', ')}`)
  await net.down()
  t.notOk((await ns.run('nft', ['list', 'tables'])).includes('kvmnet'), 'down leaves no kvmnet table')
})
