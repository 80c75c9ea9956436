/**
 * The five network kinds end to end: each proves the summary table's three columns (host <-> guest,
 * guest -> outside, DHCP) with real packets and busybox udhcpc, and `down` leaves nothing behind.
 */
import t, { type Test } from 'tap'
import { createNetwork, validateSpec, type Network } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dhcp, guestOnBridge, hostWithInternet, ping } from '../helpers/guest.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { addresses, link } from '../helpers/ip.js'
import { anyOfKind, hasAll, nftRules } from '../helpers/nft-rules.js'
import { match, meta } from '../../src/nft/index.js'

async function upIn(t: Test, host: TestNs, spec: Record<string, unknown>): Promise<Network> {
  const net = createNetwork(validateSpec(spec), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  return net
}

t.test('nat: host <-> guest yes, guest -> outside yes (masqueraded), DHCP yes', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.210.1.0/24')
  // The outside has NO route back to the guests here: replies arrive only if the source was masqueraded.
  await inet.ip('route del 10.210.1.0/24')
  const net = await upIn(t, host, {
    name: 'tnat',
    mode: 'nat',
    ipv4: { address: '10.210.1.1/24', dhcp: { range: ['10.210.1.100', '10.210.1.150'] } },
    dns: { domain: 'nat.test' },
  })
  const masq = (await nftRules(host, 'tnat')).filter((r) => anyOfKind([r], 'masquerade'))
  t.ok(masq.length > 0 && masq.every((r) => hasAll(r, match(meta('oifname'), 'uplink0'))), 'uplink defaults to the default route device')
  const guest = await guestOnBridge(t, host, net.bridge!, 'g0')
  const lease = await dhcp(guest)
  t.ok(lease, 'guest got a lease')
  t.match(lease?.ip, /^10\.210\.1\.1\d\d$/)
  t.equal(lease?.router, '10.210.1.1', 'router is the host address')
  t.ok(await ping(host, lease!.ip), 'host -> guest')
  t.ok(await ping(guest, '10.210.1.1'), 'guest -> host')
  t.ok(await ping(guest, '203.0.113.2'), 'guest -> outside')
  await net.down()
  await assertNothingLeft(t, host, 'tnat')
})

t.test('isolated: host <-> guest yes, guest -> outside rejected, DHCP yes', async (t) => {
  const { host } = await hostWithInternet(t, '10.210.2.0/24')
  // Forwarding on and a route back from outside: only the network's own rules may stop the guest.
  await host.run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  const net = await upIn(t, host, {
    name: 'tiso',
    mode: 'isolated',
    ipv4: { address: '10.210.2.1/24', dhcp: { range: ['10.210.2.100', '10.210.2.150'] } },
  })
  const guest = await guestOnBridge(t, host, net.bridge!, 'g0')
  const lease = await dhcp(guest)
  t.ok(lease, 'guest got a lease')
  t.equal(lease?.router, '', 'no router handed out on an isolated network')
  t.ok(await ping(host, lease!.ip), 'host -> guest')
  await guest.ip('route replace default via 10.210.2.1')
  t.notOk(await ping(guest, '203.0.113.2'), 'guest -> outside is rejected')
  const g2 = await guestOnBridge(t, host, net.bridge!, 'g1')
  const lease2 = await dhcp(g2)
  t.ok(lease2 && (await ping(guest, lease2.ip)), 'guest <-> guest works')
  await net.down()
  await assertNothingLeft(t, host, 'tiso')
})

t.test('very-isolated: no host address, no outside, no DHCP; guests share L2', async (t) => {
  const { host } = await hostWithInternet(t, '10.210.3.0/24')
  await host.run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  const net = await upIn(t, host, { name: 'tvi', mode: 'very-isolated' })
  const bridge = net.bridge!
  t.same(await addresses(host, bridge), [], 'the bridge has no address at all (not even IPv6 link-local)')
  const g1 = await guestOnBridge(t, host, bridge, 'g0')
  const g2 = await guestOnBridge(t, host, bridge, 'g1')
  t.equal(await dhcp(g1, 'eth0', { tries: 2 }), undefined, 'no DHCP')
  await g1.ip('addr add 10.210.3.11/24 dev eth0\nroute add default dev eth0')
  await g2.ip('addr add 10.210.3.12/24 dev eth0')
  t.ok(await ping(g1, '10.210.3.12'), 'guest <-> guest over L2')
  t.notOk(await ping(host, '10.210.3.11'), 'host cannot reach the guest')
  t.notOk(await ping(g1, '203.0.113.2'), 'guest cannot reach outside')
  await net.down()
  await assertNothingLeft(t, host, 'tvi')
})

/** A LAN namespace with bridge lan0 198.51.100.1/24 and its own dnsmasq; the host's eth0 is on it. */
async function lan(t: Test, hostNic?: string): Promise<{ host: TestNs; lan: TestNs }> {
  const host = await makeNs(t, 'kvn')
  const l = await makeNs(t, 'kvn')
  await l.ip('link add lan0 type bridge\naddr add 198.51.100.1/24 dev lan0\nlink set lan0 up')
  await host.ip(`link add eth0 type veth peer name lan-host netns ${l.name}\nlink set eth0 up`)
  await l.ip('link set lan-host master lan0 up')
  if (hostNic) await host.ip(`addr add ${hostNic} dev eth0\nroute add default via 198.51.100.1`)
  // This test's own lease file, not a name in a directory every test shares.
  const leaseDir = await mkdtemp(join(tmpdir(), 'kvmnet-lan-'))
  const d = l.spawn('dnsmasq', [
    '--keep-in-foreground', '--no-resolv', '--no-hosts', '--port=0', '--bind-interfaces', '--interface=lan0', '--except-interface=lo',
    '--dhcp-range=198.51.100.100,198.51.100.150,1h', '--no-ping', '--dhcp-authoritative', '--dhcp-option=3,198.51.100.1',
    `--dhcp-leasefile=${leaseDir}/leases`, '--pid-file=',
  ])
  t.teardown(async () => {
    d.kill('SIGTERM')
    await d.catch(() => undefined)
    await rm(leaseDir, { recursive: true, force: true })
  })
  // Ready once it listens on the DHCP port, not after a guessed delay.
  await waitFor(async () => (await l.run('ss', ['-Hlnu', 'sport = :67'])).trim() !== '')
  return { host, lan: l }
}

t.test('bridge: NIC enslaved, its address and default route move to the bridge and come back on down', async (t) => {
  const { host } = await lan(t, '198.51.100.2/24')
  const net = await upIn(t, host, { name: 'tbr', mode: 'bridge', interface: 'eth0', ports: [{ name: 'vm0' }] })
  const bridge = net.bridge!
  t.ok((await addresses(host, bridge)).includes('198.51.100.2/24'), 'address moved to the bridge')
  t.notOk((await addresses(host, 'eth0')).some((a) => a.includes('.')), 'and off the NIC')
  t.match(await host.run('ip', ['route', 'show', 'default']), new RegExp(`via 198\\.51\\.100\\.1 dev ${bridge}`), 'default route moved')
  t.ok(await ping(host, '198.51.100.1'), 'host still reaches the LAN')
  const guest = await guestOnBridge(t, host, bridge, 'g0')
  const lease = await dhcp(guest)
  t.match(lease?.ip, /^198\.51\.100\.1\d\d$/, "the LAN's DHCP answered")
  t.ok(await ping(host, lease!.ip), 'host -> guest')
  t.ok(await ping(guest, '198.51.100.1'), 'guest -> LAN directly')
  await net.down()
  t.ok((await addresses(host, 'eth0')).includes('198.51.100.2/24'), 'address restored on the NIC')
  t.match(await host.run('ip', ['route', 'show', 'default']), /via 198\.51\.100\.1 dev eth0/, 'default route restored')
  t.equal((await link(host, 'eth0'))?.master, undefined, 'NIC released')
  await assertNothingLeft(t, host, 'tbr')
})

t.test('macvtap: /dev/tapN per port; guests reach the LAN directly; host only through hostAccess', async (t) => {
  const { host } = await lan(t)
  for (const hostAccess of [false, true]) {
    const name = hostAccess ? 'tmvh' : 'tmvt'
    const net = await upIn(t, host, {
      name,
      mode: 'macvtap',
      interface: 'eth0',
      ports: [{ name: `${name}0` }],
      ...(hostAccess ? { hostAccess: true, ipv4: { address: '198.51.100.3/24' } } : {}),
    })
    const [port] = await net.ports()
    t.match(port?.tapDevice, /^\/dev\/tap\d+$/, 'port reports its char device')
    // A guest: a bridge-mode macvlan on the same NIC in its own namespace (macvtap is macvlan + a char dev).
    const guest = await makeNs(t, 'kvn')
    await host.ip(`link add g-${name} link eth0 type macvlan mode bridge\nlink set g-${name} netns ${guest.name}`)
    await guest.ip(`link set g-${name} name eth0\nlink set eth0 up`)
    const lease = await dhcp(guest)
    t.match(lease?.ip, /^198\.51\.100\.1\d\d$/, `${name}: the LAN's DHCP answered`)
    t.ok(await ping(guest, '198.51.100.1'), `${name}: guest -> LAN`)
    t.equal(await ping(host, lease!.ip), hostAccess, `${name}: host -> guest ${hostAccess ? 'works via the helper' : 'does not work'}`)
    await net.down()
    await assertNothingLeft(t, host, name)
  }
})
