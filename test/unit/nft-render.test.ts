/**
 * Golden tests of the nft JSON renderer: every mode and forward variant against a checked-in document.
 * Regenerate after an intended change with:  KVMNET_UPDATE_GOLDEN=1 npx tap test/unit/nft-render.test.ts
 * (then review the diff: the fixtures are the specification of what reaches the kernel).
 */
import t, { type Test } from 'tap'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { jsonGolden } from '../helpers/golden.js'
import { renderFirstInstall, renderRemove, renderRules, renderRulesMany, type NetworkRules } from '../../src/nft/index.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'nft')

const v4 = { subnet: '192.168.100.0/24', hostAddress: '192.168.100.1' }
const v6 = { subnet: 'fd00:100::/64', hostAddress: 'fd00:100::1' }
const nat = (extra: Partial<NetworkRules> = {}): NetworkRules => ({ tag: 'net1', bridge: 'kvbr-net1', mode: 'nat', ipv4: v4, ...extra })

const cases: Record<string, NetworkRules> = {
  'nat-basic': nat(),
  'nat-forward-port': nat({ forwards: [{ proto: 'tcp', hostPort: 8080, guest: '192.168.100.10', guestPort: 80 }] }),
  'nat-forward-same-port': nat({ forwards: [{ proto: 'tcp', hostPort: 2222, guest: '192.168.100.10' }] }),
  'nat-forward-range': nat({ forwards: [{ proto: 'tcp', hostPort: [8000, 8009], guest: '192.168.100.10' }] }),
  'nat-forward-range-shifted': nat({ forwards: [{ proto: 'tcp', hostPort: [8000, 8003], guest: '192.168.100.10', guestPort: 9000 }] }),
  'nat-forward-udp': nat({ forwards: [{ proto: 'udp', hostPort: 5353, guest: '192.168.100.20', guestPort: 53 }] }),
  'nat-forward-hostaddress': nat({
    forwards: [{ proto: 'tcp', hostPort: 8080, guest: '192.168.100.10', guestPort: 80, hostAddress: '203.0.113.1' }],
  }),
  'nat-forward-ininterface': nat({
    forwards: [{ proto: 'tcp', hostPort: 8080, guest: '192.168.100.10', guestPort: 80, inInterface: 'eth0' }],
  }),
  'nat-forward-specific-first': nat({
    forwards: [
      { proto: 'tcp', hostPort: 80, guest: '192.168.100.10' },
      { proto: 'tcp', hostPort: 80, guest: '192.168.100.11', hostAddress: '198.51.100.5' },
    ],
  }),
  'nat-snat': nat({ nat: { snat: '198.51.100.7' } }),
  'nat-uplink': nat({ nat: { uplink: 'eth0' } }),
  'nat-host-dhcp-dns': nat({ hostServices: 'dhcp-dns' }),
  'nat-port-filters': nat({
    portFilters: [
      { port: 'vm1', mac: '52:54:00:00:00:01', ipv4: '192.168.100.10', othersIpv4: ['192.168.100.11'] },
      { port: 'vm2', mac: '52:54:00:00:00:02', othersIpv4: ['192.168.100.10', '192.168.100.11'] },
    ],
  }),
  'nat-host-services': nat({ hostServices: [{ proto: 'tcp', port: 22 }, { proto: 'udp', port: 5353 }] }),
  routed: { tag: 'rt', bridge: 'kvbr-rt', mode: 'routed', ipv4: v4, routed: { uplink: 'eth0' } },
  'routed-any-uplink': { tag: 'rt2', bridge: 'kvbr-rt2', mode: 'routed', ipv4: v4, ipv6: v6 },
  'nat-uplink-snat': nat({ nat: { uplink: 'eth0', snat: '203.0.113.1' } }),
  'nat-ipv6': nat({ ipv6: v6, forwards: [{ proto: 'tcp', hostPort: 8443, guest: 'fd00:100::10', guestPort: 443 }] }),
  'nat-nat66': nat({ ipv6: { ...v6, nat66: true } }),
  'nat-snat66': nat({ ipv6: { ...v6, nat66: true, snat: '2001:db8:1::99' } }),
  'nat-ipv6-only': { tag: 'v6only', bridge: 'br6', mode: 'nat', ipv6: { ...v6, nat66: true } },
  isolated: { tag: 'iso', bridge: 'kvbr-iso', mode: 'isolated', ipv4: v4 },
  'isolated-no-address': { tag: 'iso2', bridge: 'kvbr-iso2', mode: 'isolated' },
  'isolated-dual-stack': { tag: 'iso3', bridge: 'kvbr-iso3', mode: 'isolated', ipv4: v4, ipv6: v6 },
}

const golden = (t: Test, name: string, doc: unknown): void => jsonGolden(t, dir, name, doc)

for (const [name, rules] of Object.entries(cases)) {
  t.test(name, async (t) => {
    golden(t, name, renderRules(rules))
  })
}

t.test('remove', async (t) => golden(t, 'remove', renderRemove(['net1'])))
t.test('apply many', async (t) => golden(t, 'many', renderRulesMany([cases['nat-basic']!, cases['isolated']!])))
t.test('first install', async (t) => {
  golden(t, 'first-nat-forward-port', renderFirstInstall(renderRules(cases['nat-forward-port']!)))
  golden(t, 'first-nat-port-filters', renderFirstInstall(renderRules(cases['nat-port-filters']!)))
})

t.test('a first install only adds: the replace pairs dropped, each table created, the rest as the replace has it', async (t) => {
  for (const [name, rules] of Object.entries(cases)) {
    const full = renderRules(rules).nftables
    const first = renderFirstInstall(renderRules(rules)).nftables
    t.notOk(first.some((c) => 'delete' in c || 'flush' in c), `${name}: deletes nothing`)
    const isTable = (c: (typeof full)[number]) => ('add' in c && 'table' in c.add) || ('delete' in c && 'table' in c.delete) || ('create' in c && 'table' in c.create)
    t.same(first.filter((c) => !isTable(c)), full.filter((c) => !isTable(c)), `${name}: the same chains and rules, in the same order`)
    // The tables the replace leaves in place: each `add` not followed by its `delete`.
    const kept = full.filter((c, i) => 'add' in c && 'table' in c.add && !(full[i + 1] && 'delete' in full[i + 1]!))
    t.same(first.filter((c) => 'create' in c), kept.map((c) => ({ create: (c as { add: unknown }).add })), `${name}: every table it keeps is created`)
  }
})

t.test('every rule carries the tag in its comment, all objects live in the network table', async (t) => {
  for (const [name, rules] of Object.entries(cases)) {
    for (const cmd of renderRules(rules).nftables) {
      if (!('add' in cmd)) continue
      const obj = 'rule' in cmd.add ? cmd.add.rule : 'chain' in cmd.add ? cmd.add.chain : undefined
      if (!obj) continue
      t.equal(obj.table, `kvmnet_${rules.tag}`, `${name}: table`)
      if ('rule' in cmd.add) t.match(cmd.add.rule.comment, new RegExp(`^kvmnet:${rules.tag} `), `${name}: comment`)
    }
  }
})

t.test('replacement is add, delete, add of the table before anything else', async (t) => {
  const cmds = renderRules(cases['nat-basic']!).nftables
  t.same(cmds.slice(0, 4), [
    { metainfo: { json_schema_version: 1 } },
    { add: { table: { family: 'inet', name: 'kvmnet_net1' } } },
    { delete: { table: { family: 'inet', name: 'kvmnet_net1' } } },
    { add: { table: { family: 'inet', name: 'kvmnet_net1' } } },
  ])
})

t.test('rendering is deterministic and does not modify its input', async (t) => {
  const rules = cases['nat-ipv6']!
  const before = JSON.stringify(rules)
  t.equal(JSON.stringify(renderRules(rules)), JSON.stringify(renderRules(structuredClone(rules))))
  t.equal(JSON.stringify(rules), before)
})
