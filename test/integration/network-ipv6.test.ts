/**
 * IPv6 for guests: a guest namespace with default sysctls gets a SLAAC address from the network's prefix
 * and a default route from kvmnet's router advertisements, resolves an AAAA record through kvmnet's DNS
 * over IPv6, and reaches an "outside" namespace over IPv6 (NAT66 on nat; on isolated no default route).
 */
import t from 'tap'
import { createNetwork, validateSpec, SpecError } from '../../src/index.js'
import { guestOnBridge, hostWithInternet } from '../helpers/guest.js'
import { waitFor, type TestNs } from '../helpers/ns.js'

/** The guest's SLAAC address from `prefix`, once duplicate address detection has finished with it. */
async function slaac(guest: TestNs, prefix: string): Promise<string> {
  return waitFor(async () => {
    const usable = JSON.parse(await guest.run('ip', ['-j', '-6', 'addr', 'show', 'dev', 'eth0', '-tentative'])) as { addr_info?: { local: string; prefixlen: number }[] }[]
    return usable.flatMap((l) => l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).find((a) => a.startsWith(prefix) && a.endsWith('/64'))
  }, 15_000, 100)
}

t.test('nat: SLAAC address and default route by RA, AAAA over IPv6, NAT66 to the outside', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.222.0.0/24')
  await host.ip(['addr add 2001:db8:1::1/64 dev uplink0 nodad', 'route add default via 2001:db8:1::2'].join('\n'))
  // The outside has no route back to the guests' prefix: replies arrive only through NAT66.
  await inet.ip('addr add 2001:db8:1::2/64 dev eth0 nodad')
  const net = createNetwork(
    validateSpec({
      name: 'v6nat',
      mode: 'nat',
      ipv4: { address: '10.222.0.1/24', dhcp: { range: ['10.222.0.100', '10.222.0.150'] } },
      ipv6: { address: 'fd00:222::1/64', nat66: true },
      dns: { domain: 'v6.test', hosts: [{ name: 'svc', ip: 'fd00:222::53' }] },
    }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-v6')
  const addr = await slaac(guest, 'fd00:222:')
  t.ok(addr, `SLAAC address ${addr}`)
  const route = await waitFor(async () => (await guest.run('ip', ['-6', 'route', 'show', 'default'])).trim() || undefined, 15_000, 100)
  t.match(route, /default via fe80::.* dev eth0/, 'default route via the host, learnt from the RA')
  const aaaa = await guest.run('dig', ['+short', '+time=2', '+tries=2', 'AAAA', 'svc.v6.test', '@fd00:222::1'])
  t.equal(aaaa.trim(), 'fd00:222::53', "kvmnet's DNS answers AAAA over IPv6")
  const ping = await guest.try('busybox', ['ping', '-6', '-c', '1', '-W', '3', '2001:db8:1::2'])
  t.equal(ping.exitCode, 0, 'guest -> outside over IPv6 (NAT66)')
  await net.down()
})

t.test('isolated: a SLAAC address but no default route advertised', async (t) => {
  const { host } = await hostWithInternet(t, '10.222.1.0/24')
  const net = createNetwork(
    validateSpec({ name: 'v6iso', mode: 'isolated', ipv4: { address: '10.222.1.1/24', dhcp: { range: ['10.222.1.100', '10.222.1.150'] } }, ipv6: { address: 'fd00:223::1/64' } }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-v6i')
  t.ok(await slaac(guest, 'fd00:223:'), 'SLAAC address')
  t.equal((await guest.run('ip', ['-6', 'route', 'show', 'default'])).trim(), '', 'no default route (router lifetime 0)')
  t.equal((await guest.try('busybox', ['ping', '-6', '-c', '1', '-W', '2', 'fd00:223::1'])).exitCode, 0, 'guest -> host over IPv6')
  await net.down()
})

t.test('a prefix other than /64 is refused where guests would need SLAAC', async (t) => {
  t.throws(
    () => validateSpec({ name: 'v6bad', mode: 'nat', ipv4: { address: '10.222.2.1/24', dhcp: { range: ['10.222.2.100', '10.222.2.150'] } }, ipv6: { address: 'fd00:224::1/56' } }),
    SpecError,
  )
})
