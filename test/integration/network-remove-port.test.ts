/**
 * removePort on a running network: the port's link goes, and so does everything kvmnet keyed on its name
 * — its anti-spoofing filter and its place in the address-learning table's port set. A later port of the
 * same name (another guest, another MAC) must not inherit the old guest's filter.
 */
import t from 'tap'
import { rm } from 'node:fs/promises'
import { createNetwork, validateSpec } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { ping } from '../helpers/guest.js'

const OLD = { mac: '52:54:00:7e:00:01', ip: '10.223.0.21' }
const NEW = { mac: '52:54:00:7e:00:02', ip: '10.223.0.22' }

async function veth(t: Parameters<typeof makeNs>[0], host: TestNs, bridge: string, port: string, mac: string, ip: string): Promise<TestNs> {
  const g = await makeNs(t, 'kvx')
  await host.ip([`link del ${port}`, `link add ${port} type veth peer name eth0 netns ${g.name} address ${mac}`, `link set ${port} master ${bridge} up`].join('\n'))
  await g.ip(`link set eth0 up\naddr add ${ip}/24 dev eth0`)
  return g
}

t.test('a removed port leaves no filter or learning entry behind for the next port of its name', async (t) => {
  const host = await makeNs(t, 'kvx')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(
    validateSpec({
      name: 'rmport',
      mode: 'isolated',
      ipv4: { address: '10.223.0.1/24' },
      ports: [{ name: 'rp-keep' }, { name: 'rp-gone', mac: OLD.mac, filtering: true }],
    }),
    { netns: host.name, stateRoot },
  )
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  t.match(await host.run('nft', ['list', 'ruleset']), /rp-gone/, 'the filtered port is in the rules')
  await net.removePort('rp-gone', { force: true })
  const rules = await host.run('nft', ['list', 'ruleset'])
  t.notMatch(rules, /rp-gone/, 'nothing in any table names the removed port')
  t.match(rules, /rp-keep/, 'the kept port is still learned from')
  t.same((await net.ports()).map((p) => p.name), ['rp-keep'])

  // Another guest, with another MAC, on a port of the same name without filtering.
  await net.addPort({ name: 'rp-gone', mac: NEW.mac })
  const g = await veth(t, host, net.bridge!, 'rp-gone', NEW.mac, NEW.ip)
  t.ok(await ping(g, '10.223.0.1'), 'the new guest reaches the host (no stale filter drops it)')
  await net.down()
})

t.test('a removePort that fails at its link puts the filter and the learning entry back', async (t) => {
  const host = await makeNs(t, 'kvx')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  let fail = false
  const net = createNetwork(
    validateSpec({ name: 'rmfail', mode: 'isolated', ipv4: { address: '10.223.1.1/24' }, ports: [{ name: 'rf-keep' }, { name: 'rf-p', mac: OLD.mac, filtering: true }] }),
    {
      netns: host.name,
      stateRoot,
      faultInjector: (step) => {
        if (fail && step === 'remove-ports') throw new Error('injected before the link goes')
      },
    },
  )
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  // Table by table: a table put back is listed after the others, its contents are what count.
  const tables = async () => Promise.all(['inet kvmnet_rmfail', 'bridge kvmnet_rmfail', 'bridge kvmnet-addr_rmfail'].map((t) => host.run('nft', ['list', 'table', ...t.split(' ')])))
  const before = await tables()
  t.match((before[2] ?? '').replace(/\s+/g, ' '), /"rf-keep", "rf-p"|"rf-p", "rf-keep"/, 'both ports are learned from')
  fail = true
  await t.rejects(net.removePort('rf-p', { force: true }), /injected/)
  fail = false
  t.same(await tables(), before, 'the rules and the learning ports are as they were')
  t.match(await host.run('ip', ['link', 'show', 'rf-p']), /rf-p/, 'the port is still there')
  t.same((await net.ports()).map((p) => p.name).sort(), ['rf-keep', 'rf-p'], 'and still the network\'s')
  await net.removePort('rf-p', { force: true })
  t.notMatch(await host.run('nft', ['list', 'ruleset']), /rf-p\b/, 'removed on the second try')
  await net.down()
})
