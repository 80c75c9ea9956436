/**
 * A port is the guest's cable, not an interface of the host's: a tap kvmnet makes carries no IPv6
 * link-local address of the host's once a guest brings carrier (addrgenmode none), so a guest on a
 * very-isolated network cannot reach the host at fe80::…%eth0, and the host sends it no DAD or router
 * solicitation from the port. IPv6 on the bridge (a NAT network's router advertisements, SLAAC,
 * the host's address) is unchanged; an MTU under 1280 (no IPv6 on the link at all) still comes up.
 * Guests are socat-relayed namespaces behind the taps (test/helpers/tap-guest.ts).
 */
import t from 'tap'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { tapGuest } from '../helpers/tap-guest.js'
import { ping } from '../helpers/guest.js'
import { upInTestNs } from '../helpers/network-up.js'

interface JsonAddr {
  addr_info?: { local: string; tentative?: boolean; scope: string }[]
}

async function v6Addresses(ns: TestNs, dev: string): Promise<{ local: string; tentative?: boolean; scope: string }[]> {
  return (JSON.parse(await ns.run('ip', ['-j', '-6', 'addr', 'show', 'dev', dev])) as JsonAddr[]).flatMap((l) => l.addr_info ?? [])
}

/** The guest's link-local address once its DAD is over: by then the host's end has had as long to make one. */
async function settledLinkLocal(guest: TestNs): Promise<string> {
  return waitFor(async () => (await v6Addresses(guest, 'eth0')).find((a) => a.scope === 'link' && !a.tentative)?.local, 15_000, 100)
}

t.test('very-isolated: the port has no host address once a guest brings carrier', async (t) => {
  const host = await makeNs(t, 'kh')
  await upInTestNs(t, host, { name: 'khvi', mode: 'very-isolated', bridge: 'kvbr-khvi', ports: [{ name: 'khvi-p0', mac: '52:54:00:6a:00:10', vnetHdr: false }] })
  const link = (JSON.parse(await host.run('ip', ['-j', '-d', 'link', 'show', 'khvi-p0'])) as { inet6_addr_gen_mode?: string }[])[0]
  t.equal(link?.inet6_addr_gen_mode, 'none', 'the tap was made with addrgenmode none')
  const guest = await tapGuest(t, host, 'khvi-p0', '52:54:00:6a:00:10', '10.106.0.10/24', 'kh')
  const own = await settledLinkLocal(guest)
  t.same(await v6Addresses(host, 'khvi-p0'), [], 'the port has no IPv6 address with a guest on it')
  t.ok(own, `the guest has its own link-local address (${own})`)
})

t.test('nat with IPv6: ports carry no address, the guest still gets SLAAC from the bridge and reaches the host', async (t) => {
  const host = await makeNs(t, 'kh')
  await upInTestNs(t, host, {
    name: 'khnat',
    mode: 'nat',
    bridge: 'kvbr-khnat',
    ipv4: { address: '10.107.0.1/24', dhcp: { range: ['10.107.0.100', '10.107.0.150'] } },
    ipv6: { address: 'fd00:107::1/64' },
    ports: [{ name: 'khnat-p0', mac: '52:54:00:6b:00:10', vnetHdr: false }],
  })
  const guest = await tapGuest(t, host, 'khnat-p0', '52:54:00:6b:00:10', '10.107.0.10/24', 'kh')
  const own = await settledLinkLocal(guest)
  const global = await waitFor(async () => (await v6Addresses(guest, 'eth0')).find((a) => a.scope === 'global' && !a.tentative && a.local.startsWith('fd00:107:'))?.local, 20_000, 200)
  t.ok(global, `the guest took a SLAAC address from the bridge's advertisements (${global})`)
  t.ok(await ping(guest, 'fd00:107::1'), "the guest reaches the host's address on the bridge")
  t.same(await v6Addresses(host, 'khnat-p0'), [], 'the port has no IPv6 address')
  t.ok(own, `the guest has its own link-local address (${own})`)
})

t.test('an MTU under 1280 (no IPv6 on the link): the port comes up without an address mode of its own', async (t) => {
  const host = await makeNs(t, 'kh')
  await upInTestNs(t, host, { name: 'khmtu', mode: 'very-isolated', bridge: 'kvbr-khmtu', mtu: 1200, ports: [{ name: 'khmtu-p0' }] })
  const link = (JSON.parse(await host.run('ip', ['-j', '-d', 'link', 'show', 'khmtu-p0'])) as { mtu: number; operstate: string }[])[0]
  t.equal(link?.mtu, 1200, 'the port has the MTU')
})

t.test('a port made before addrgenmode none (an older kvmnet) loses its host address at the next up', async (t) => {
  const host = await makeNs(t, 'kh')
  const spec = { name: 'khold', mode: 'very-isolated', bridge: 'kvbr-khold', ports: [{ name: 'khold-p0', mac: '52:54:00:6c:00:10', vnetHdr: false }] }
  const net = await upInTestNs(t, host, spec)
  // What an older kvmnet left: the tap with the kernel's default mode, and a link-local address of the
  // host's on it once a guest brought carrier.
  await host.run('ip', ['link', 'set', 'khold-p0', 'addrgenmode', 'eui64'])
  const guest = await tapGuest(t, host, 'khold-p0', '52:54:00:6c:00:10', '10.108.0.10/24', 'kh')
  await settledLinkLocal(guest)
  const before = await waitFor(async () => (await v6Addresses(host, 'khold-p0')).find((a) => a.scope === 'link')?.local, 15_000, 100)
  t.ok(before, `the old port has a host link-local address (${before})`)
  await net.up()
  const link = (JSON.parse(await host.run('ip', ['-j', '-d', 'link', 'show', 'khold-p0'])) as { inet6_addr_gen_mode?: string }[])[0]
  t.equal(link?.inet6_addr_gen_mode, 'none', 'the converge set addrgenmode none')
  t.same(await v6Addresses(host, 'khold-p0'), [], 'and removed the host address from the port')
  t.ok(await ping(guest, '10.108.0.10'), 'the guest is still on its port (pings itself through its stack)')
  t.same((await net.ports()).map((p) => p.name), ['khold-p0'], 'the port is still the network\'s')
})
