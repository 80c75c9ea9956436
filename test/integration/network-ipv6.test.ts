/**
 * IPv6 for guests: a guest namespace with default sysctls gets a SLAAC address from the network's prefix
 * and a default route from kvmnet's router advertisements, resolves an AAAA record through kvmnet's DNS
 * over IPv6, and reaches an "outside" namespace over IPv6 (NAT66 on nat; on isolated no default route).
 */
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNetwork, validateSpec, SpecError } from '../../src/index.js'
import { guestOnBridge, hostWithInternet } from '../helpers/guest.js'
import { waitFor, type TestNs } from '../helpers/ns.js'
import { anyOfKind, nftRules } from '../helpers/nft-rules.js'

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

t.test("an uplink whose IPv6 default route comes from RA keeps it after up (accept_ra=2), and accept_ra comes back after down", async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.222.3.0/24')
  await inet.ip('addr add 2001:db8:1::2/64 dev eth0 nodad')
  // The outside's router; a (re)started dnsmasq advertises at once, which makes the test's RAs come
  // when the test wants them rather than on dnsmasq's own schedule.
  const router = () =>
    inet.spawn('dnsmasq', [
      '--keep-in-foreground', '--no-resolv', '--no-hosts', '--port=0', '--bind-interfaces', '--interface=eth0', '--except-interface=lo',
      '--enable-ra', '--dhcp-range=2001:db8:1::,ra-only,64', '--ra-param=eth0,60,60', '--pid-file=', '--leasefile-ro',
    ])
  let ra = router()
  const raRoute = async () => (await host.run('ip', ['-6', 'route', 'show', 'default', 'proto', 'ra'])).trim()
  const expires = async () => Number((await raRoute()).match(/expires (\d+)sec/)?.[1] ?? -1)
  await waitFor(async () => (await raRoute()) !== '' || undefined, 15_000, 100)
  t.equal((await host.run('sysctl', ['-n', 'net.ipv6.conf.uplink0.accept_ra'])).trim(), '1')
  const net = createNetwork(
    validateSpec({ name: 'v6ra', mode: 'nat', ipv4: { address: '10.222.3.1/24' }, ipv6: { address: 'fd00:225::1/64', nat66: true } }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  t.equal((await host.run('sysctl', ['-n', 'net.ipv6.conf.all.forwarding'])).trim(), '1', 'IPv6 forwarding on')
  t.equal((await host.run('sysctl', ['-n', 'net.ipv6.conf.uplink0.accept_ra'])).trim(), '2', 'accept_ra=2 on the uplink')
  t.ok((await expires()) > 0, 'the RA route survived turning forwarding on')
  // Let the route's lifetime run down a little, then have the router advertise again: with forwarding
  // on, only accept_ra=2 makes the kernel take it and reset the lifetime to 60 s.
  await waitFor(async () => ((await expires()) <= 56 ? true : undefined), 10_000, 250)
  ra.kill('SIGKILL')
  await ra.catch(() => undefined)
  ra = router()
  await waitFor(async () => ((await expires()) >= 58 ? true : undefined), 10_000, 100)
  t.pass('a new router advertisement refreshed the uplink\'s default route')
  await net.down()
  t.equal((await host.run('sysctl', ['-n', 'net.ipv6.conf.uplink0.accept_ra'])).trim(), '1', 'accept_ra put back')
})

t.test('routed: the guest reaches the outside over IPv6 with its own address, and is reached by it', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.222.4.0/24')
  await host.ip(['addr add 2001:db8:1::1/64 dev uplink0 nodad', 'route add default via 2001:db8:1::2'].join('\n'))
  // The outside routes the network's prefix to the host: no NAT needed.
  await inet.ip(['addr add 2001:db8:1::2/64 dev eth0 nodad', 'route add fd00:226::/64 via 2001:db8:1::1'].join('\n'))
  const net = createNetwork(
    validateSpec({ name: 'v6rt', mode: 'routed', ipv4: { address: '10.222.4.1/24', dhcp: { range: ['10.222.4.100', '10.222.4.150'] } }, ipv6: { address: 'fd00:226::1/64' } }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-v6r')
  const addr = (await slaac(guest, 'fd00:226:')).split('/')[0]!
  await waitFor(async () => (await guest.run('ip', ['-6', 'route', 'show', 'default'])).trim() || undefined, 15_000, 100)
  t.equal((await guest.try('busybox', ['ping', '-6', '-c', '1', '-W', '3', '2001:db8:1::2'])).exitCode, 0, 'guest -> outside over IPv6')
  t.equal((await inet.try('busybox', ['ping', '-6', '-c', '1', '-W', '3', addr])).exitCode, 0, "the outside reaches the guest's own address (no NAT)")
  t.notOk(anyOfKind(await nftRules(host, 'v6rt'), 'masquerade'), 'no NAT66')
  await net.down()
})

t.test('forwards over IPv6: from outside, from the host and from another guest (hairpin)', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.222.5.0/24')
  await host.ip(['addr add 2001:db8:1::1/64 dev uplink0 nodad', 'route add default via 2001:db8:1::2'].join('\n'))
  await inet.ip('addr add 2001:db8:1::2/64 dev eth0 nodad')
  const net = createNetwork(
    validateSpec({
      name: 'v6fwd',
      mode: 'nat',
      ipv4: { address: '10.222.5.1/24' },
      ipv6: { address: 'fd00:227::1/64', nat66: true },
      forwards: [{ proto: 'tcp', hostPort: 8080, guest: 'fd00:227::10', guestPort: 80 }],
    }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const web = await guestOnBridge(t, host, net.bridge!, 'g-web6')
  await web.ip(['addr add fd00:227::10/64 dev eth0 nodad', 'route add default via fd00:227::1'].join('\n'))
  web.spawn('socat', ['TCP6-LISTEN:80,reuseaddr,fork', 'SYSTEM:echo web6 $SOCAT_PEERADDR'])
  await waitFor(async () => (await web.run('ss', ['-Hltn', 'sport = :80'])).trim() !== '')
  const get = async (from: TestNs) => {
    const r = await from.try('socat', ['-T', '3', '-', 'TCP6:[2001:db8:1::1]:8080,connect-timeout=3'], { input: '', timeout: 8000 })
    return r.stdout.trim()
  }
  t.match(await get(inet), /^web6 \[2001:0db8:0001:0000:0000:0000:0000:0002\]/, 'outside -> [host]:8080 -> guest:80, with the real client address')
  t.match(await get(host), /^web6 /, "host -> its own [address]:8080")
  const other = await guestOnBridge(t, host, net.bridge!, 'g-oth6')
  await other.ip(['addr add fd00:227::11/64 dev eth0 nodad', 'route add default via fd00:227::1'].join('\n'))
  t.match(await get(other), /^web6 /, 'another guest through the host address (hairpin)')
  t.throws(
    () => validateSpec({ name: 'x', mode: 'nat', ipv4: { address: '10.222.6.1/24' }, forwards: [{ proto: 'tcp', hostPort: 1, guest: 'fd00::10' }] }),
    SpecError,
    'an IPv6 guest needs ipv6.address',
  )
  await net.down()
})

t.test('stateful DHCPv6: a real client (dhclient -6) gets its reservation by DUID, listed by leases() and resolvable', async (t) => {
  const { host } = await hostWithInternet(t, '10.222.7.0/24')
  const mac = '52:54:00:6c:00:42'
  const duid = `00:03:00:01:${mac}` // DUID-LL, what `dhclient -D LL` sends
  const net = createNetwork(
    validateSpec({
      name: 'v6dhcp',
      mode: 'nat',
      ipv4: { address: '10.222.7.1/24', dhcp: { range: ['10.222.7.100', '10.222.7.150'] } },
      ipv6: { address: 'fd00:228::1/64', dhcp: { range: ['fd00:228::100', 'fd00:228::1ff'], hosts: [{ id: duid, ip: 'fd00:228::42', name: 'v6res' }] } },
      dns: { domain: 'v6d.test' },
    }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-d6', mac)
  // DHCPv6 goes out from the link-local address: wait until it is usable.
  await waitFor(async () => (await guest.run('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link', '-tentative'])).trim() !== '', 10_000, 100)
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-dhclient6-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'script'), '#!/bin/sh\necho "$reason $new_ip6_address" >> "$(dirname "$0")/out"\n', { mode: 0o755 })
  const run = await guest.try('dhclient', ['-6', '-1', '-D', 'LL', '-lf', join(dir, 'leases'), '-pf', join(dir, 'pid'), '-sf', join(dir, 'script'), 'eth0'], { timeout: 30_000 })
  t.teardown(async () => {
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => '0'))
    if (pid > 0) process.kill(pid, 'SIGKILL')
  })
  t.equal(run.exitCode, 0, `dhclient -6 got a lease (${run.stderr.trim().split('\n').pop()})`)
  t.match(await readFile(join(dir, 'out'), 'utf8').catch(() => ''), /BOUND6 fd00:228::42/, 'the reserved address, matched by DUID')
  const leases = await net.leases()
  t.ok(leases.some((l) => l.family === 6 && l.ip === 'fd00:228::42' && l.mac === mac && l.duid === duid), 'leases() lists the v6 lease, with the MAC from the DUID')
  // Asked from the host: the guest's only global address is the one dhclient leased (its script here
  // configures none), and SLAAC may still be in duplicate address detection.
  const aaaa = await host.run('dig', ['+short', '+time=2', '+tries=2', 'AAAA', 'v6res.v6d.test', '@fd00:228::1'])
  t.equal(aaaa.trim(), 'fd00:228::42', 'the reservation resolves (AAAA)')
  await net.down()
})

t.test('SNAT66: guests leave with a fixed IPv6 source instead of the masqueraded one', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.222.8.0/24')
  await host.ip(['addr add 2001:db8:1::1/64 dev uplink0 nodad', 'addr add 2001:db8:1::99/64 dev uplink0 nodad', 'route add default via 2001:db8:1::2'].join('\n'))
  await inet.ip('addr add 2001:db8:1::2/64 dev eth0 nodad')
  inet.spawn('socat', ['TCP6-LISTEN:7600,reuseaddr,fork', 'SYSTEM:echo peer $SOCAT_PEERADDR'])
  const net = createNetwork(
    validateSpec({ name: 'v6snat', mode: 'nat', ipv4: { address: '10.222.8.1/24' }, ipv6: { address: 'fd00:229::1/64', nat66: true, snat: '2001:db8:1::99' } }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-sn6')
  await guest.ip(['addr add fd00:229::10/64 dev eth0 nodad', 'route add default via fd00:229::1'].join('\n'))
  await waitFor(async () => (await inet.run('ss', ['-Hltn', 'sport = :7600'])).trim() !== '')
  const r = await guest.try('socat', ['-T', '3', '-', 'TCP6:[2001:db8:1::2]:7600,connect-timeout=3'], { input: '', timeout: 8000 })
  t.match(r.stdout.trim(), /^peer \[2001:0db8:0001:0000:0000:0000:0000:0099\]/, 'the outside saw the SNAT66 address')
  await net.down()
})
