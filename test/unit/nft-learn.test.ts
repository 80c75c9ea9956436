/**
 * Address learning (src/nft/learn.ts): the rendered table (one JSON document) against checked-in
 * documents, the ports-only update, the removal, the listing parser on what nft 1.0.6 printed here, and
 * the merge of leases and learned addresses. No root needed.
 * Regenerate after an intended change with:  KVMNET_UPDATE_GOLDEN=1 npx tap test/unit/nft-learn.test.ts
 */
import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { learningShape, parseLearned, renderLearning, renderLearningPorts, renderLearningRemove, type AddressLearning } from '../../src/nft/index.js'
import { SpecError } from '../../src/errors.js'
import { catchErr } from '../helpers/catch.js'
import { mergeAddresses } from '../../src/network/index.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'nft-learn')
const update = process.env['KVMNET_UPDATE_GOLDEN'] === '1'

function golden(name: string, value: unknown): void {
  const file = join(dir, `${name}.json`)
  const text = JSON.stringify(value, null, 2) + '\n'
  if (update || !existsSync(file)) writeFileSync(file, text)
  t.equal(text, readFileSync(file, 'utf8'), `${name} matches its golden document`)
}

const bridge: AddressLearning = { tag: 'net1', family: 'bridge', ports: ['vm0', 'vm1'], timeout: 60 }
const macvtap: AddressLearning = { tag: 'net2', family: 'netdev', devices: ['mv0', 'mv1'], timeout: 60 }

t.test('rendered documents', async () => {
  golden('bridge', renderLearning(bridge))
  golden('netdev', renderLearning(macvtap))
  golden('bridge-first', renderLearning(bridge, true))
  golden('bridge-ports', renderLearningPorts({ ...bridge, family: 'bridge', ports: ['vm0', 'vm2'] }, ['vm0', 'vm1']))
  golden('bridge-ports-added', renderLearningPorts({ ...bridge, family: 'bridge', ports: ['vm0', 'vm1', 'vm2'] }, ['vm0', 'vm1']))
  golden('remove', renderLearningRemove(['net1']))
})

t.test('a ports change sends only the ports that come and go', async (t) => {
  const l = { ...bridge, family: 'bridge' as const }
  t.equal(renderLearningPorts(l, ['vm1', 'vm0']), undefined, 'nothing when the set is right (in any order)')
  const added = renderLearningPorts({ ...l, ports: ['vm0', 'vm1', 'vm2'] }, ['vm0', 'vm1'])
  t.notOk(added?.nftables.some((c) => 'delete' in c || 'flush' in c), 'a port added: a transaction that only adds')
  t.same(renderLearningPorts({ ...l, ports: [] }, ['vm0'])?.nftables.slice(1), [{ delete: { element: { family: 'bridge', table: 'kvmnet-addr_net1', name: 'ports', elem: ['vm0'] } } }])
})

t.test('a first install creates the table and deletes nothing', async (t) => {
  for (const l of [bridge, macvtap]) {
    const cmds = renderLearning(l, true).nftables
    t.same(cmds[1], { create: { table: { family: l.family, name: `kvmnet-addr_${l.tag}` } } })
    t.notOk(cmds.some((c) => 'delete' in c || 'flush' in c))
    t.same(cmds.slice(2), renderLearning(l).nftables.slice(4), 'the same sets, chains and rules')
  }
})

t.test('one document: the sets (timeout, keyed by port . MAC . address) with the rules that update them', async (t) => {
  const sets = renderLearning(bridge).nftables.flatMap((c) => ('add' in c && 'set' in c.add ? [c.add.set] : []))
  t.same(
    sets.map((s) => [s.name, s.type, s.flags, s.timeout]),
    [
      ['v4', ['ifname', 'ether_addr', 'ipv4_addr'], ['timeout'], 60],
      ['v6', ['ifname', 'ether_addr', 'ipv6_addr'], ['timeout'], 60],
      ['ports', 'ifname', undefined, undefined],
    ],
  )
  // nft 1.0.6's JSON refuses `dynamic`; nft sets it for a set created with a rule that updates it.
  t.notOk(sets.some((s) => s.flags?.includes('dynamic')), 'no dynamic flag in JSON')
  t.notOk(
    renderLearning(macvtap).nftables.some((c) => 'add' in c && 'set' in c.add && c.add.set.name === 'ports'),
    'macvtap learns per device chain, no ports set',
  )
  const others = renderLearning(bridge, false, [{ delete: { table: { family: 'netdev', name: 'kvmnet-addr_net1' } } }]).nftables
  t.same(others[1], { delete: { table: { family: 'netdev', name: 'kvmnet-addr_net1' } } }, "the other family's table goes in the same transaction")
})

t.test('the rules only update sets: no verdict, accept policies', async (t) => {
  for (const l of [bridge, macvtap]) {
    const cmds = renderLearning(l).nftables
    for (const c of cmds) {
      if (!('add' in c)) continue
      if ('chain' in c.add) t.equal(c.add.chain.policy, 'accept')
      if ('rule' in c.add) {
        const verdicts = c.add.rule.expr.filter((s) => 'accept' in s || 'drop' in s || 'reject' in s || 'return' in s)
        t.same(verdicts, [], `${c.add.rule.comment}: no verdict`)
      }
    }
  }
})

t.test('a ports change keeps the shape (the table is not replaced)', async (t) => {
  const other: AddressLearning = { ...bridge, family: 'bridge', ports: ['vm9'] }
  t.same(renderLearning(learningShape(bridge)), renderLearning(learningShape(other)))
  t.notSame(renderLearning(learningShape(macvtap)), renderLearning(learningShape({ ...macvtap, family: 'netdev', devices: ['mv9'] })), 'macvtap devices are chains')
})

t.test('bad input is refused naming the field', async (t) => {
  t.throws(() => renderLearning({ ...bridge, tag: 'bad name' }), SpecError)
  t.match(catchErr(() => renderLearning({ ...bridge, timeout: 0 })), { field: 'timeout' })
  t.match(catchErr(() => renderLearningRemove(['ok', 'bad name'])), { field: '[1]' })
})

// What `nft -j list set bridge kvmnet-addr_x v4` printed on this machine (nft 1.0.6).
const listing = {
  nftables: [
    { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
    {
      set: {
        family: 'bridge', name: 'v4', table: 'kvmnet-addr_x', type: ['ifname', 'ether_addr', 'ipv4_addr'], handle: 2, size: 65536, flags: ['timeout'], timeout: 60,
        elem: [{ elem: { val: { concat: ['p1', 'C2:DD:FE:8F:D0:81', '10.9.0.5'] }, expires: 58 } }],
      },
    },
    { set: { family: 'bridge', name: 'v6', table: 'kvmnet-addr_x', type: ['ifname', 'ether_addr', 'ipv6_addr'], handle: 3, timeout: 60, elem: [{ elem: { val: { concat: ['p1', 'c2:dd:fe:8f:d0:81', 'fe80::c0dd:feff:fe8f:d081'] }, expires: 59 } }] } },
    { set: { family: 'bridge', name: 'v4', table: 'someone-else', elem: [{ elem: { val: { concat: ['p9', 'c2:dd:fe:8f:d0:82', '10.9.0.9'] }, expires: 1 } }] } },
  ],
}

t.test('parseLearned reads the elements of kvmnet learning sets only', async (t) => {
  t.same(parseLearned(listing), [
    { ifname: 'p1', mac: 'c2:dd:fe:8f:d0:81', address: '10.9.0.5', family: 4, expires: 58, timeout: 60 },
    { ifname: 'p1', mac: 'c2:dd:fe:8f:d0:81', address: 'fe80::c0dd:feff:fe8f:d081', family: 6, expires: 59, timeout: 60 },
  ])
  t.same(parseLearned({ nftables: [] }), [])
})

t.test('mergeAddresses: a lease stays a lease (with lastSeen from traffic), learned addresses of non-ports are dropped', async (t) => {
  const ports = [{ name: 'p1' }, { name: 'p2' }]
  const now = Date.parse('2026-01-01T00:01:00Z')
  const expiresAt = new Date('2026-01-01T01:00:00Z')
  const merged = mergeAddresses(
    ports,
    [{ mac: '52:54:00:00:00:02', ip: '10.9.0.102', family: 4, expiresAt, port: 'p2' }],
    [
      ...parseLearned(listing),
      { ifname: 'p2', mac: '52:54:00:00:00:02', address: '10.9.0.102', family: 4, expires: 50, timeout: 60 },
      { ifname: 'eth0', mac: '52:54:00:00:00:99', address: '10.9.0.1', family: 4, expires: 50, timeout: 60 },
    ],
    now,
  )
  t.same(merged, [
    { port: 'p1', mac: 'c2:dd:fe:8f:d0:81', address: '10.9.0.5', family: 4, source: 'neighbour', lastSeen: new Date('2026-01-01T00:00:58Z') },
    { port: 'p1', mac: 'c2:dd:fe:8f:d0:81', address: 'fe80::c0dd:feff:fe8f:d081', family: 6, source: 'neighbour', lastSeen: new Date('2026-01-01T00:00:59Z') },
    { port: 'p2', mac: '52:54:00:00:00:02', address: '10.9.0.102', family: 4, source: 'lease', leaseExpiresAt: expiresAt, lastSeen: new Date('2026-01-01T00:00:50Z') },
  ])
})
