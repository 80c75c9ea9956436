/**
 * A network changed behind kvmnet's back: status says precisely what is wrong, and up repairs exactly
 * that — a flushed nft table, a deleted bridge (dnsmasq must follow the new one), a renamed bridge.
 */
import t from 'tap'
import { createNetwork, validateSpec } from '../../src/index.js'
import { dhcp, guestOnBridge, hostWithInternet, ping } from '../helpers/guest.js'
import { link } from '../helpers/ip.js'

const spec = (extra: Record<string, unknown> = {}) =>
  validateSpec({ name: 'drift', mode: 'nat', ipv4: { address: '10.219.0.1/24', dhcp: { range: ['10.219.0.100', '10.219.0.150'] } }, ports: [{ name: 'drift-p0' }], ...extra })

t.test('a flushed nft table: status names it, up repairs it, guests leave again', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.219.0.0/24')
  await inet.ip('route del 10.219.0.0/24')
  const net = createNetwork(spec(), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-drift')
  t.ok(await dhcp(guest))
  t.ok(await ping(guest, '203.0.113.2'), 'egress before')
  await host.run('nft', ['flush', 'table', 'inet', 'kvmnet_drift'])
  t.notOk(await ping(guest, '203.0.113.2'), 'egress dead once the table is flushed (no masquerade)')
  const st = await net.status()
  t.equal(st.up, false, 'status: not up')
  t.ok(st.problems.some((p) => /nft chain postrouting has 0 of its \d+ rules/.test(p)), `status names the flushed chains (${st.problems.join('; ')})`)
  const r = await net.up()
  t.equal(r.steps.find((s) => s.step === 'nft')?.outcome, 'repaired', 'up repairs the rules')
  t.same((await net.status()).problems, [], 'status: up again')
  t.ok(await ping(guest, '203.0.113.2'), 'egress back')
  await host.run('nft', ['delete', 'table', 'inet', 'kvmnet_drift'])
  t.ok((await net.status()).problems.some((p) => /kvmnet_drift missing/.test(p)), 'a deleted table is named too')
  await net.up()
  t.same((await net.status()).problems, [])
  // Without it addresses() knows the leases only: a problem to report, and up puts it back.
  await host.run('nft', ['delete', 'table', 'bridge', 'kvmnet-addr_drift'])
  t.same((await net.status()).problems, ['address-learning table bridge kvmnet-addr_drift missing'], 'the address-learning table deleted: named')
  t.equal((await net.up()).steps.find((s) => s.step === 'learn')?.outcome, 'repaired', 'up makes it again')
  t.same((await net.status()).problems, [], 'status: up again')
})

t.test('a deleted bridge: up makes it again and dnsmasq serves the new one', async (t) => {
  const { host } = await hostWithInternet(t, '10.219.0.0/24')
  const net = createNetwork(spec(), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  await host.ip(`link del ${net.bridge}`)
  t.ok((await net.status()).problems.some((p) => /bridge kvbr-drift missing/.test(p)), 'status: bridge missing')
  const r = await net.up()
  t.equal(r.steps.find((s) => s.step === 'dnsmasq')?.outcome, 'repaired', 'dnsmasq restarted on the new bridge')
  t.same((await net.status()).problems, [], 'status: up')
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-new')
  const lease = await dhcp(guest)
  t.ok(lease, 'a new guest leases')
  t.ok(lease && (await ping(host, lease.ip)), 'and is reached')
})

t.test('a bridge renamed by a converge is removed, its ports move over', async (t) => {
  const { host } = await hostWithInternet(t, '10.219.0.0/24')
  const net = createNetwork(spec({ bridge: 'br-old' }), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  await net.up(spec({ bridge: 'br-new' }))
  t.equal(await link(host, 'br-old'), undefined, 'the old bridge is gone')
  t.equal((await link(host, 'drift-p0'))?.master, 'br-new', 'the port is on the new bridge')
  t.same((await net.status()).problems, [])
})
