/**
 * renderAddsOnly (src/nft/adds-only.ts): the appends an edit that only adds is sent as (golden documents,
 * regenerate with KVMNET_UPDATE_GOLDEN=1 and review), and the edits that must get the full replace
 * instead: anything removed or changed, a new chain or table, a rule placed before an existing one.
 */
import t, { type Test } from 'tap'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { jsonGolden } from '../helpers/golden.js'
import { renderAddsOnly, renderRules, type NetworkRules } from '../../src/nft/index.js'
import { appends, f1, f2, nat, pf1, pf2, v6, f6a } from '../helpers/nft-adds-cases.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'nft')

const addsOnly = (prev: NetworkRules, next: NetworkRules) => renderAddsOnly(renderRules(prev), renderRules(next))

const golden = (t: Test, name: string, doc: unknown): void => jsonGolden(t, dir, name, doc)

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
