/**
 * Network.update (kvmnet-cni's ADD and DEL) applies an edit of reservations, DNS records and forwards as
 * the steps it changes only (issue 21: each CNI ADD ran a full converge): its journal, kvmnet's table in
 * one transaction, dnsmasq's reload, the state. What it leaves is what a full converge makes — the `up`
 * after it finds every part unchanged. An edit that changes more (the first forward needs a sysctl) and a
 * network with its bridge gone get the full converge, which sets the sysctl and makes the bridge again.
 */
import t from 'tap'
import { createNetwork, validateSpec } from '../../src/index.js'
import { edits } from '../../src/network/index.js'
import { makeNs } from '../helpers/ns.js'

const spec = (forwards: unknown[] = [{ proto: 'tcp', hostPort: 2222, guest: '10.218.0.105', guestPort: 22 }]) =>
  validateSpec({ name: 'kvcnedit', mode: 'nat', ipv4: { address: '10.218.0.1/24', dhcp: { range: ['10.218.0.100', '10.218.0.150'] } }, ports: [{ name: 'kvcnedit-p0' }], forwards })

t.test('an edit runs its own steps only, and leaves what a full up would make', async (t) => {
  const host = await makeNs(t, 'kvcn')
  const net = createNetwork(spec(), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()

  const r = await net.update((s, runtime) => {
    const [withHost, rt] = edits.addReservationEdit(s, runtime, { mac: '52:54:00:aa:bb:01', ip: '10.218.0.110', name: 'one' })
    return edits.addForwardEdit(withHost, rt, { proto: 'tcp', hostPort: 8080, guest: '10.218.0.110', guestPort: 80 })
  })
  const steps = r?.steps.map((s) => s.step) ?? []
  t.same([...steps].sort(), ['dnsmasq', 'journal', 'nft', 'state'], `only the edit's steps ran (${steps.join(', ')})`)
  t.equal(r?.steps.find((s) => s.step === 'nft')?.outcome, 'updated')
  t.match(await host.run('nft', ['list', 'table', 'inet', 'kvmnet_kvcnedit']), /dport 8080/, 'the forward is in the table')

  const full = await net.up()
  const changed = full.steps.filter((s) => s.outcome !== 'unchanged' && s.step !== 'journal' && s.step !== 'state')
  t.same(changed, [], 'a full converge after it changes nothing: the table and dnsmasq are what it would have made')
  t.same((await net.status()).problems, [])

  const undo = await net.update((s, runtime) => edits.removeForwardEdit(s, runtime, { proto: 'tcp', hostPort: 8080 }))
  t.same(undo?.steps.map((s) => s.step).sort(), ['journal', 'nft', 'state'], 'a forward removed: dnsmasq is not touched')
  t.notMatch(await host.run('nft', ['list', 'table', 'inet', 'kvmnet_kvcnedit']), /dport 8080/)
})

t.test('the first forward needs route_localnet: that edit is a full converge', async (t) => {
  const host = await makeNs(t, 'kvcn')
  const net = createNetwork(spec([]), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const r = await net.update((s, runtime) => edits.addForwardEdit(s, runtime, { proto: 'tcp', hostPort: 8080, guest: '10.218.0.110', guestPort: 80 }))
  t.equal(r?.steps.find((s) => s.step === 'sysctls')?.outcome, 'updated', 'the sysctl is set')
  t.same((await net.status()).problems, [])
})

t.test('the bridge deleted behind kvmnet\'s back: the next edit converges in full and makes it again', async (t) => {
  const host = await makeNs(t, 'kvcn')
  const net = createNetwork(spec(), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  await host.ip(`link del ${net.bridge}`)
  const r = await net.update((s, runtime) => edits.addReservationEdit(s, runtime, { mac: '52:54:00:aa:bb:02', ip: '10.218.0.111' }))
  t.equal(r?.steps.find((s) => s.step === 'bridge')?.outcome, 'created', 'the bridge is made again')
  t.equal(r?.steps.find((s) => s.step === 'dnsmasq')?.outcome, 'repaired', 'dnsmasq follows the new bridge')
  t.same((await net.status()).problems, [], 'status: up')
})
