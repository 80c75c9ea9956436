/**
 * renderAddsOnly (src/nft/adds-only.ts): the appends an edit that only adds is sent as (golden documents,
 * regenerate with KVMNET_UPDATE_GOLDEN=1 and review), and the edits that must get the full replace
 * instead: anything removed or changed, a new chain or table, a rule placed before an existing one.
 */
import t, { type Test } from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderAddsOnly, renderRules, type NetworkRules, type PortForward } from '../../src/nft/index.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'nft')
const update = process.env['KVMNET_UPDATE_GOLDEN'] === '1'

const v4 = { subnet: '192.168.100.0/24', hostAddress: '192.168.100.1' }
const v6 = { subnet: 'fd00:100::/64', hostAddress: 'fd00:100::1' }
const nat = (extra: Partial<NetworkRules> = {}): NetworkRules => ({ tag: 'net1', bridge: 'kvbr-net1', mode: 'nat', ipv4: v4, ...extra })
const f1: PortForward = { proto: 'tcp', hostPort: 2222, guest: '192.168.100.10', guestPort: 22 }
const f2: PortForward = { proto: 'tcp', hostPort: 8080, guest: '192.168.100.11', guestPort: 80 }
const f6a: PortForward = { proto: 'tcp', hostPort: 8443, guest: 'fd00:100::10', guestPort: 443 }
const f6b: PortForward = { proto: 'udp', hostPort: 5353, guest: 'fd00:100::11', guestPort: 53 }
const pf1 = { port: 'vm1', mac: '52:54:00:00:00:01', ipv4: '192.168.100.10', othersIpv4: ['192.168.100.11'] }
const pf2 = { port: 'vm2', mac: '52:54:00:00:00:02', ipv4: '192.168.100.11', othersIpv4: ['192.168.100.10'] }

const addsOnly = (prev: NetworkRules, next: NetworkRules) => renderAddsOnly(renderRules(prev), renderRules(next))

function golden(t: Test, name: string, doc: unknown): void {
  const file = join(dir, `${name}.json`)
  const text = `${JSON.stringify(doc, null, 2)}\n`
  if (update || !existsSync(file)) {
    if (!update) t.fail(`missing golden file ${file} (written now; rerun)`)
    writeFileSync(file, text)
  }
  t.equal(text, readFileSync(file, 'utf8'), `${name}.json matches`)
}

const appends: Record<string, [NetworkRules, NetworkRules]> = {
  'adds-forward': [nat({ forwards: [f1] }), nat({ forwards: [f1, f2] })],
  'adds-forward-snat': [nat({ nat: { snat: '198.51.100.7' }, forwards: [f1] }), nat({ nat: { snat: '198.51.100.7' }, forwards: [f1, f2] })],
  'adds-forward-ipv6': [
    nat({ ipv6: { ...v6, nat66: true, snat: '2001:db8:1::99' }, forwards: [f1, f6a] }),
    nat({ ipv6: { ...v6, nat66: true, snat: '2001:db8:1::99' }, forwards: [f1, f6a, f6b] }),
  ],
  'adds-port-filter': [nat({ portFilters: [pf1] }), nat({ portFilters: [pf1, pf2] })],
}

for (const [name, [prev, next]] of Object.entries(appends)) {
  t.test(name, async (t) => {
    const doc = addsOnly(prev, next)
    t.ok(doc, 'only appends')
    t.ok(doc!.nftables.slice(1).every((c) => 'add' in c && 'rule' in c.add), 'add rule commands only')
    golden(t, name, doc)
  })
}

t.test('what must be the full replace', async (t) => {
  const specific = { ...f2, hostAddress: '203.0.113.1' }
  const refused: Record<string, [NetworkRules, NetworkRules]> = {
    'the same rules': [nat({ forwards: [f1] }), nat({ forwards: [f1] })],
    'a forward removed': [nat({ forwards: [f1, f2] }), nat({ forwards: [f1] })],
    'a forward changed': [nat({ forwards: [f1] }), nat({ forwards: [{ ...f1, guestPort: 23 }] })],
    'the first forward (new chains, a rule before others)': [nat(), nat({ forwards: [f1] })],
    'the first IPv6 forward (a rule before others in forward and postrouting)': [nat({ ipv6: v6, forwards: [f1] }), nat({ ipv6: v6, forwards: [f1, f6a] })],
    'a forward bound to an address (before the general ones)': [nat({ forwards: [f1] }), nat({ forwards: [f1, specific] })],
    'the first port filter (a new table)': [nat(), nat({ portFilters: [pf1] })],
    "a port filter changing another's set": [
      nat({ portFilters: [{ port: 'vm1', mac: '52:54:00:00:00:01', othersIpv4: [] }] }),
      nat({ portFilters: [{ port: 'vm1', mac: '52:54:00:00:00:01', othersIpv4: ['192.168.100.11'] }, pf2] }),
    ],
    'a host service (before the final reject)': [nat({ hostServices: [{ proto: 'tcp', port: 22 }] }), nat({ hostServices: [{ proto: 'tcp', port: 22 }, { proto: 'udp', port: 53 }] })],
    'another network': [nat({ forwards: [f1] }), { ...nat({ forwards: [f1, f2] }), tag: 'net2' }],
  }
  for (const [what, [prev, next]] of Object.entries(refused)) t.equal(addsOnly(prev, next), undefined, what)
})
