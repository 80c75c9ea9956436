/** Reading kvmnet tables back from `nft -j list ruleset` output (as nft 1.0.6 prints it). */
import t from 'tap'
import { parseInstalled, type PortForward } from '../../src/nft/index.js'
import type { NftListing } from '../../src/nft/index.js'

const rule = (table: string, chain: string, expr: unknown[]): Record<string, unknown> => ({
  rule: { family: 'inet', table, chain, handle: 1, comment: 'kvmnet:x', expr },
})
const dport = (proto: string, right: unknown): unknown => ({
  match: { op: '==', left: { payload: { protocol: proto, field: 'dport' } }, right },
})

// Shaped like real `nft -j list ruleset inet` output, including a foreign table and a foreign kvmnet look-alike family.
const listed: NftListing = {
  nftables: [
    { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
    { table: { family: 'inet', name: 'other', handle: 1 } },
    { table: { family: 'inet', name: 'kvmnet_b', handle: 2 } },
    { table: { family: 'inet', name: 'kvmnet_a', handle: 3 } },
    { table: { family: 'ip', name: 'kvmnet_c', handle: 4 } },
    { chain: { family: 'inet', table: 'other', name: 'prerouting', handle: 1, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
    { chain: { family: 'inet', table: 'kvmnet_a', name: 'forward', handle: 1, type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
    { chain: { family: 'inet', table: 'kvmnet_a', name: 'prerouting', handle: 2, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
    { chain: { family: 'inet', table: 'kvmnet_b', name: 'forward', handle: 1, type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
    rule('other', 'prerouting', [dport('tcp', 1), { dnat: { family: 'ip', addr: '10.0.0.1' } }]),
    rule('kvmnet_a', 'forward', [{ accept: null }]),
    rule('kvmnet_a', 'forward', [{ accept: null }]),
    rule('kvmnet_a', 'prerouting', [
      { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } },
      { match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } },
      dport('tcp', 8080),
      { dnat: { family: 'ip', addr: '192.168.100.10', port: 80 } },
    ]),
    rule('kvmnet_a', 'prerouting', [
      { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth0' } },
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '203.0.113.1' } },
      dport('udp', { range: [5000, 5002] }),
      { dnat: { family: 'ip', addr: '192.168.100.11' } },
    ]),
    rule('kvmnet_a', 'prerouting', [
      dport('tcp', { range: [7000, 7001] }),
      {
        dnat: {
          family: 'ip',
          addr: '192.168.100.12',
          port: { map: { key: { payload: { protocol: 'tcp', field: 'dport' } }, data: { set: [[7001, 9001], [7000, 9000]] } } },
        },
      },
    ]),
    rule('kvmnet_a', 'prerouting', [dport('tcp', 8443), { dnat: { family: 'ip6', addr: 'fd00::10', port: 443 } }]),
  ],
}

t.test('only inet kvmnet_ tables, sorted by tag, with chains and rule counts', async (t) => {
  const got = parseInstalled(listed)
  t.same(got.map((g) => g.tag), ['a', 'b'])
  const a = got[0]!
  t.equal(a.table, 'kvmnet_a')
  t.equal(a.ruleCount, 6)
  t.same(a.chains.map((c) => [c.name, c.hook, c.prio, c.rules]), [['forward', 'forward', 0, 2], ['prerouting', 'prerouting', -100, 4]])
  t.equal(got[1]!.ruleCount, 0)
})

t.test('forwards are recovered from the DNAT rules', async (t) => {
  const expected: PortForward[] = [
    { proto: 'tcp', hostPort: 8080, guest: '192.168.100.10', guestPort: 80 },
    { proto: 'udp', hostPort: [5000, 5002], guest: '192.168.100.11', guestPort: 5000, hostAddress: '203.0.113.1', inInterface: 'eth0' },
    { proto: 'tcp', hostPort: [7000, 7001], guest: '192.168.100.12', guestPort: 9000 },
    { proto: 'tcp', hostPort: 8443, guest: 'fd00::10', guestPort: 443 },
  ]
  t.same(parseInstalled(listed)[0]!.forwards, expected)
})

t.test('an empty ruleset lists nothing', async (t) => {
  t.same(parseInstalled({ nftables: [] }), [])
})
