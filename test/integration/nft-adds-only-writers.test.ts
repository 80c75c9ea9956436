/**
 * Two writers at once, each an edit that only adds: pairs of `kvmnet forward add` processes started
 * together on one network. The network's lock orders them; each reads the state the other left and commits
 * its own appends (adds-only.ts) onto the table the other changed. Nothing may be lost, nothing deleted,
 * and the result must be the tables a fresh `up` of the final spec makes.
 */
import t from 'tap'
import { execa } from 'execa'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, openNetwork, validateSpec } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { nftChangesDuring } from '../helpers/nft-monitor.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
// The built command, not tsx: its start is short enough that the two of a pair really meet at the lock.
const kvmnet = (args: string[]) => execa(process.execPath, [join(root, 'dist/cli.js'), ...args], { reject: false })

const spec = (forwards: unknown[]) =>
  validateSpec({
    name: 'kvjw',
    mode: 'nat',
    ipv4: { address: '10.234.0.1/24', dhcp: { range: ['10.234.0.100', '10.234.0.150'] } },
    dns: { enabled: false },
    ports: [{ name: 'kvjw-p0' }],
    forwards,
  })

async function listing(host: TestNs): Promise<string> {
  const j = JSON.parse(await host.run('nft', ['-j', 'list', 'ruleset'])) as { nftables: Array<Record<string, Record<string, unknown>>> }
  const objs = j.nftables.filter((o) => !('metainfo' in o))
  for (const o of objs) for (const v of Object.values(o)) delete v.handle
  return JSON.stringify(objs, null, 1)
}

t.test('pairs of forward add at once: both kept, nothing deleted, the tables of a fresh up', async (t) => {
  const host = await makeNs(t, 'kvj')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  // --wait: the CLI's default is to exit 75 at once when another writer holds the network.
  const common = ['--netns', host.name, '--state-root', stateRoot, '--wait', '10']
  const net = createNetwork(spec([{ proto: 'tcp', hostPort: 2222, guest: '10.234.0.105', guestPort: 22 }]), { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const pairs = 4
  const during = await nftChangesDuring(host, 'kvj', async () => {
    for (let i = 0; i < pairs; i++) {
      const [a, b] = await Promise.all([
        kvmnet(['forward', 'add', 'kvjw', 'tcp', String(8000 + 2 * i), `10.234.0.${110 + 2 * i}:80`, ...common]),
        kvmnet(['forward', 'add', 'kvjw', 'udp', String(9000 + 2 * i + 1), `10.234.0.${111 + 2 * i}:53`, ...common]),
      ])
      t.same([a.exitCode, b.exitCode], [0, 0], `pair ${i}: both writers succeeded`, { stderr: a.stderr + b.stderr })
    }
  })
  t.notMatch(during, /^(delete|flush) /m, 'no writer deleted anything', { during })
  t.equal(during.match(/^add rule inet kvmnet_kvjw prerouting /gm)?.length, 2 * pairs, 'each writer appended its own forward once', { during })
  const after = await openNetwork('kvjw', { netns: host.name, stateRoot })
  t.teardown(() => after.close())
  t.same(
    ('forwards' in after.spec ? (after.spec.forwards ?? []) : []).map((f) => f.hostPort).sort(),
    [2222, ...Array.from({ length: pairs }, (_, i) => [8000 + 2 * i, 9000 + 2 * i + 1]).flat()].sort(),
    'the state has every forward',
  )
  t.same((await after.status()).problems, [])
  // The final spec, forwards in the order the state has them, brought up at once elsewhere.
  const other = await makeNs(t, 'kvj')
  const fresh = createNetwork(validateSpec(after.spec), { netns: other.name, stateRoot: `/run/kvmnet-test/${other.name}` })
  await fresh.up()
  const want = await listing(other)
  await fresh.down()
  t.equal(await listing(host), want, 'the tables a fresh up of the final spec makes')
})
