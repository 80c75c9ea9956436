/**
 * A network's first apply installs its tables with transactions that only add (render.ts,
 * renderFirstInstall: a deletion makes the process's exit wait an RCU grace period). That shortcut is
 * taken only when none of the tables is there: tables left by a process whose state is gone (a crash, a
 * state root wiped) are replaced as always — no rule twice, no stale port-filter table, no learning table
 * of the other family — and a first apply on a clean namespace still builds exactly what a replace builds.
 */
import t, { type Test } from 'tap'
import { rm } from 'node:fs/promises'
import { createNetwork, validateSpec } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { nftChangesDuring } from '../helpers/nft-monitor.js'

const spec = (name: string) =>
  validateSpec({
    name,
    mode: 'nat',
    ipv4: { address: '10.231.0.1/24' },
    dns: { enabled: false },
    ports: [{ name: `${name}-p0` }],
    forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.231.0.2', guestPort: 80 }],
  })

/** The namespace's whole ruleset as text, without handles: what two applies must agree on. */
async function ruleset(host: TestNs): Promise<string> {
  return host.run('nft', ['list', 'ruleset'])
}

t.test('a first apply deletes nothing (a deletion would make the process wait a grace period at exit)', async (t) => {
  const host = await makeNs(t, 'kvq')
  const net = createNetwork(spec('kvqadds'), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  // Every nf_tables change in the namespace while the network comes up, as nft prints it.
  const during = await nftChangesDuring(host, 'kvq', () => net.up())
  t.match(during, /^(add|create) table inet kvmnet_kvqadds$/m, 'the monitor saw the apply', { during })
  t.match(during, /^(add|create) table bridge kvmnet-addr_kvqadds$/m)
  t.notMatch(during, /^delete /m, 'no deletion')
})

t.test('a first apply on a clean namespace makes what a replace makes', async (t) => {
  const host = await makeNs(t, 'kvq')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(spec('kvqfirst'), { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const first = await ruleset(host)
  t.match(first, /table inet kvmnet_kvqfirst/)
  t.match(first, /table bridge kvmnet-addr_kvqfirst/)
  // The same network again, its state forgotten: the tables are there, so they are replaced.
  await rm(stateRoot, { recursive: true, force: true })
  const again = createNetwork(spec('kvqfirst'), { netns: host.name, stateRoot })
  await again.up()
  t.equal(await ruleset(host), first, 'replacing what a first apply made changes nothing: no rule twice')
  t.same((await again.status()).problems, [])
  await again.down()
  t.equal((await ruleset(host)).trim(), '', 'down leaves no table')
})

t.test('tables left behind are replaced, not added to, on an apply that has no record of them', async (t) => {
  const host = await makeNs(t, 'kvq')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  // What a crash could leave: the network's table with a rule of its own, a port-filter table of the
  // bridge family, and a learning table of the other family (a macvtap network of the same name).
  await host.run('nft', ['-f', '-'], {
    input: [
      'add table inet kvmnet_kvqleft',
      'add chain inet kvmnet_kvqleft forward { type filter hook forward priority 0; policy accept; }',
      'add rule inet kvmnet_kvqleft forward meta l4proto udp drop comment "kvmnet:kvqleft stale"',
      'add table bridge kvmnet_kvqleft',
      'add chain bridge kvmnet_kvqleft port-filter { type filter hook prerouting priority -200; policy accept; }',
      'add table netdev kvmnet-addr_kvqleft',
      '',
    ].join('\n'),
  })
  const net = createNetwork(spec('kvqleft'), { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const after = await ruleset(host)
  t.notMatch(after, /stale/, 'the stale rule is gone with the table it was in')
  t.notMatch(after, /table bridge kvmnet_kvqleft/, 'no port-filter table: the spec filters no port')
  t.notMatch(after, /table netdev kvmnet-addr_kvqleft/, 'no learning table of the other family')
  t.match(after, /table bridge kvmnet-addr_kvqleft/)
  t.equal(after.match(/dport 8080/g)?.length, (await fresh(t)).match(/dport 8080/g)?.length, 'the forward as often as on a clean namespace')
  t.same((await net.status()).problems, [])
})

/** The ruleset a first apply of the same spec makes on a namespace of its own. */
async function fresh(t: Test): Promise<string> {
  const host = await makeNs(t, 'kvq')
  const net = createNetwork(spec('kvqleft'), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  try {
    await net.up()
    return await ruleset(host)
  } finally {
    await net.down()
  }
}
