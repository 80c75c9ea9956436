/**
 * `addresses()` of real QEMU guests with static addresses (no DHCP anywhere) on a `bridge` network and on
 * a `macvtap` network: the kernel knows nothing of these by itself (on macvtap not even the MAC); kvmnet
 * learns them from the guests' own packets. Then `down` leaves nothing.
 */
import t, { type Test } from 'tap'
import type { Network, PortAddress } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { bootGuest, guestSupport } from '../helpers/qemu.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { upInTestNs } from '../helpers/network-up.js'

const support = guestSupport()

/** A host whose eth0 leads to a "LAN" namespace at 198.51.100.1/24. */
async function hostOnLan(t: Test): Promise<TestNs> {
  const host = await makeNs(t, 'ka')
  const lan = await makeNs(t, 'ka')
  await host.ip(`link add eth0 type veth peer name eth0 netns ${lan.name}\naddr add 198.51.100.2/24 dev eth0\nlink set eth0 up`)
  await lan.ip('addr add 198.51.100.1/24 dev eth0\nlink set eth0 up')
  return host
}

/** Boots the guest and waits (generously: a TCG boot takes tens of seconds) until `addresses()` lists it. */
async function listedWhileRunning(t: Test, net: Network, host: TestNs, port: string, mac: string, ip: string, tapDevice?: string): Promise<PortAddress> {
  const events: PortAddress[] = []
  const onAddress = (a: PortAddress): void => void events.push(a)
  net.on('address', onAddress)
  const boot = bootGuest({ netnsPath: host.path, tapName: port, mac, ...(tapDevice ? { tapDevice } : {}), checks: { address: `${ip}/24`, ping: ['198.51.100.1'], waitForPeers: 20 } })
  let booted = false
  void boot.then(() => (booted = true), () => (booted = true))
  try {
    const found = await waitFor(async () => {
      if (booted) throw new Error('the guest powered off before its address was listed')
      return (await net.addresses()).find((a) => a.port === port && a.address === ip)
    }, 170_000, 250)
    await waitFor(() => events.some((e) => e.port === port && e.address === ip), 5000, 100)
    t.pass('an address event for it')
    const report = await boot
    t.equal(report.pings['198.51.100.1'], true, 'the guest reached the LAN')
    return found
  } finally {
    net.off('address', onAddress)
    await boot.catch(() => undefined)
  }
}

t.test('bridge: a QEMU guest with a static address is listed from its own traffic', { skip: support.ok ? false : support.reason }, async (t) => {
  const host = await hostOnLan(t)
  const mac = '52:54:00:4c:01:01'
  const net = await upInTestNs(t, host, { name: 'kabr', mode: 'bridge', interface: 'eth0', ports: [{ name: 'ka-vm0', mac, vnetHdr: true }] })
  const a = await listedWhileRunning(t, net, host, 'ka-vm0', mac, '198.51.100.50')
  t.equal(a.source, 'neighbour', 'learned, not leased')
  t.equal(a.mac, mac, "the guest's MAC")
  t.notOk((await net.addresses()).some((x) => x.address === '198.51.100.1'), "the LAN's own hosts (behind the NIC) are not guests")
  await net.down()
  await assertNothingLeft(t, host, 'kabr')
})

t.test('macvtap: a QEMU guest with a static address is listed from its own traffic', { skip: support.ok ? false : support.reason }, async (t) => {
  const host = await hostOnLan(t)
  const mac = '52:54:00:4c:02:01'
  const net = await upInTestNs(t, host, { name: 'kamv', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'ka-mv0', mac }] })
  const [port] = await net.ports()
  t.ok(port?.tapDevice, 'the port has a char device')
  const a = await listedWhileRunning(t, net, host, 'ka-mv0', mac, '198.51.100.51', port!.tapDevice!)
  t.equal(a.source, 'neighbour', 'learned on the macvtap egress')
  t.equal(a.mac, mac, "the guest's MAC")
  await net.down()
  await assertNothingLeft(t, host, 'kamv')
})

t.test('nat: a QEMU guest\'s DHCP lease (source lease) and SLAAC address (learned) are listed', { skip: support.ok ? false : support.reason }, async (t) => {
  const host = await makeNs(t, 'ka')
  const mac = '52:54:00:4c:03:01'
  const net = await upInTestNs(t, host, {
    name: 'kanat',
    mode: 'nat',
    ipv4: { address: '10.232.0.1/24', dhcp: { range: ['10.232.0.100', '10.232.0.150'] } },
    ipv6: { address: 'fd00:232::1/64' },
    ports: [{ name: 'ka-vm1', mac, vnetHdr: true }],
  })
  const boot = bootGuest({ netnsPath: host.path, tapName: 'ka-vm1', mac, checks: { slaac: 30, ping: ['10.232.0.1', 'fd00:232::1'], waitForPeers: 20 } })
  let booted = false
  void boot.then(() => (booted = true), () => (booted = true))
  try {
    const both = await waitFor(async () => {
      if (booted) throw new Error('the guest powered off before its addresses were listed')
      const list = (await net.addresses()).filter((a) => a.port === 'ka-vm1')
      const v4 = list.find((a) => a.family === 4)
      const v6 = list.find((a) => a.family === 6 && a.address.startsWith('fd00:232:'))
      return v4 && v6 ? { v4, v6 } : undefined
    }, 170_000, 250)
    const report = await boot
    t.equal(both.v4.address, report.lease?.ip, 'the leased address')
    t.equal(both.v4.source, 'lease', 'with source lease')
    t.equal(both.v6.address, report.addr6?.split('/')[0], "the guest's SLAAC address")
    t.equal(both.v6.source, 'neighbour', 'learned from its traffic')
  } finally {
    await boot.catch(() => undefined)
  }
  await net.down()
  await assertNothingLeft(t, host, 'kanat')
})
