/**
 * The two kinds added as drivers: routed (forwarding without NAT, only for the network's subnet) and open
 * (forwarding without any kvmnet rules). Real packets: a guest reaches an "outside" namespace that routes
 * the subnet back to the host, the outside sees the guest's own address, and reaches the guest by it.
 */
import t, { type Test } from 'tap'
import { createNetwork, validateSpec, type Network } from '../../src/index.js'
import type { TestNs } from '../helpers/ns.js'
import { dhcp, guestOnBridge, hostWithInternet, ping, tcpGet, tcpServer } from '../helpers/guest.js'
import { assertNothingLeft, processesIn } from '../helpers/leftovers.js'
import { addresses } from '../helpers/ip.js'
import { anyOfKind, hasAll, nftRules } from '../helpers/nft-rules.js'
import { accept, match, meta, payload, prefix } from '../../src/nft/index.js'

async function upIn(t: Test, host: TestNs, spec: unknown): Promise<Network> {
  const net = createNetwork(validateSpec(spec), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  return net
}

t.test('routed: guests reach the outside with their own addresses, and are reached by them', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.211.1.0/24')
  const net = await upIn(t, host, {
    name: 'trouted',
    mode: 'routed',
    ipv4: { address: '10.211.1.1/24', dhcp: { range: ['10.211.1.100', '10.211.1.150'] } },
    dns: { domain: 'routed.test' },
  })
  t.equal((await host.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '1', 'forwarding on')
  const rules = await nftRules(host, 'trouted')
  t.notOk(anyOfKind(rules, 'masquerade', 'snat', 'dnat'), 'no NAT of any kind')
  const out = [match(meta('iifname'), 'kvbr-trouted'), match(meta('oifname'), 'uplink0'), match(payload('ip', 'saddr'), prefix('10.211.1.0', 24)), accept]
  t.ok(rules.some((r) => hasAll(r, ...out)), 'uplink defaults to the default route device')
  const guest = await guestOnBridge(t, host, net.bridge!, 'g0')
  const lease = await dhcp(guest)
  t.ok(lease, 'guest got a lease')
  t.equal(lease?.router, '10.211.1.1', 'the host is the router')
  t.ok(await ping(host, lease!.ip), 'host -> guest')
  t.ok(await ping(guest, '203.0.113.2'), 'guest -> outside')
  tcpServer(inet, 7100, 'outside')
  t.equal(await waitReply(guest, '203.0.113.2', 7100), `outside ${lease!.ip}`, 'the outside sees the guest\'s own address')
  tcpServer(guest, 7200, 'guest')
  t.equal(await waitReply(inet, lease!.ip, 7200), 'guest 203.0.113.2', 'the outside reaches the guest by its own address')
  const g2 = await guestOnBridge(t, host, net.bridge!, 'g1')
  const lease2 = await dhcp(g2)
  t.ok(lease2 && (await ping(guest, lease2.ip)), 'guest <-> guest')

  // A source outside the subnet is not forwarded (anti-spoofing is the routed rules' job).
  await guest.ip('addr add 10.99.0.5/32 dev eth0')
  const spoofed = await guest.try('socat', ['-T', '2', '-', 'TCP:203.0.113.2:7100,bind=10.99.0.5,connect-timeout=2'], { input: '', timeout: 6000 })
  t.not(spoofed.exitCode, 0, 'a guest using another source address is not forwarded')
  t.notOk(spoofed.stdout.includes('outside'), 'nothing came back')
  await net.down()
  await assertNothingLeft(t, host, 'trouted')
  // Forwarding stays on: another manager (libvirt, Docker) may rely on it since (README, "What down leaves").
  t.equal((await host.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '1', 'forwarding left on')
})

t.test('open: forwarding without NAT and without any kvmnet rules', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.211.2.0/24')
  const net = await upIn(t, host, {
    name: 'topen',
    mode: 'open',
    ipv4: { address: '10.211.2.1/24', dhcp: { range: ['10.211.2.100', '10.211.2.150'] } },
  })
  t.equal((await host.run('nft', ['list', 'tables'])).trim(), '', 'kvmnet added no nft table')
  const guest = await guestOnBridge(t, host, net.bridge!, 'g0')
  const lease = await dhcp(guest)
  t.ok(lease, 'guest got a lease (dnsmasq runs)')
  t.ok(await ping(host, lease!.ip), 'host -> guest')
  tcpServer(inet, 7100, 'outside')
  t.equal(await waitReply(guest, '203.0.113.2', 7100), `outside ${lease!.ip}`, 'the outside sees the guest\'s own address')
  tcpServer(guest, 7200, 'guest')
  t.equal(await waitReply(inet, lease!.ip, 7200), 'guest 203.0.113.2', 'the outside reaches the guest')
  await net.down()
  await assertNothingLeft(t, host, 'topen')
})

t.test('converging between routed kinds: nat -> routed -> open -> very-isolated keeps promises', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.211.3.0/24')
  const base = { name: 'tconv', ipv4: { address: '10.211.3.1/24', dhcp: { range: ['10.211.3.100', '10.211.3.150'] } } }
  const net = await upIn(t, host, { ...base, mode: 'nat', forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.211.3.10', guestPort: 80 }] })
  t.equal((await host.run('sysctl', ['-n', 'net.ipv4.conf.kvbr-tconv.route_localnet'])).trim(), '1', 'nat with a loopback-reachable forward')
  await net.up(validateSpec({ ...base, mode: 'routed' }))
  t.equal((await host.run('sysctl', ['-n', 'net.ipv4.conf.kvbr-tconv.route_localnet'])).trim(), '0', 'route_localnet put back once no forward needs it')
  t.notOk(anyOfKind(await nftRules(host, 'tconv'), 'masquerade', 'dnat'), 'routed: NAT gone')
  const guest = await guestOnBridge(t, host, net.bridge!, 'g0')
  const lease = await dhcp(guest)
  tcpServer(inet, 7100, 'outside')
  t.equal(await waitReply(guest, '203.0.113.2', 7100), `outside ${lease!.ip}`, 'routed after nat: own address')
  await net.up(validateSpec({ ...base, mode: 'open' }))
  t.equal((await host.run('nft', ['list', 'tables'])).trim(), '', 'open: the table is gone')
  await net.up(validateSpec({ name: 'tconv', mode: 'very-isolated' }))
  t.same(await addresses(host, 'kvbr-tconv'), [], 'very-isolated: no address left on the bridge, not even link-local')
  // Forwarding stays on: another manager (libvirt, Docker) may rely on it since (README, "What down leaves").
  t.equal((await host.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '1', 'forwarding left on')
  t.same(processesIn(host.path, 'dnsmasq'), [], 'very-isolated: dnsmasq stopped')
  t.same((await net.status()).problems, [], 'status: up')
  await net.down()
  await assertNothingLeft(t, host, 'tconv')
})

async function waitReply(from: TestNs, addr: string, port: number): Promise<string | undefined> {
  // The server was just spawned: give it a moment to listen, by retrying the connection (no fixed sleep).
  for (let i = 0; i < 50; i++) {
    const r = await tcpGet(from, addr, port)
    if (r !== undefined) return r
    await new Promise((res) => setTimeout(res, 50))
  }
  return undefined
}
