/**
 * A real QEMU guest (Debian kernel, busybox initramfs, virtio-net) on a kvmnet NAT network through a
 * kvmnet tap: it leases an address from kvmnet's dnsmasq and reaches the "internet" namespace, which has
 * no route back to the guest subnet — every reply proves kvmnet's masquerade.
 */
import t from 'tap'
import { rm } from 'node:fs/promises'
import { createNetwork, validateSpec } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'
import { hostWithInternet, tcpServer } from '../helpers/guest.js'
import { bootGuest, guestSupport, tcpKey } from '../helpers/qemu.js'
import { assertNothingLeft } from '../helpers/leftovers.js'

const support = guestSupport()

t.test('a QEMU guest on a kvmnet NAT network leases an address and reaches the outside', { skip: support.ok ? false : support.reason }, async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.78.0.0/24')
  await inet.ip('route del 10.78.0.0/24')
  tcpServer(inet, 8080, 'internet')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const mac = '52:54:00:4b:00:01'
  const net = createNetwork(
    validateSpec({
      name: 'qemu',
      mode: 'nat',
      ipv4: { address: '10.78.0.1/24', dhcp: { range: ['10.78.0.50', '10.78.0.99'] } },
      dns: { domain: 'qemu.test' },
      ports: [{ name: 'vm0', mac, vnetHdr: true }],
    }),
    { netns: host.name, stateRoot },
  )
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  const report = await bootGuest({
    netnsPath: host.path,
    tapName: 'vm0',
    mac,
    checks: { ping: ['10.78.0.1', '203.0.113.2'], tcp: [{ host: '203.0.113.2', port: 8080 }] },
  })
  t.comment(`guest booted (${report.accel}) and finished in ${report.bootMs.toFixed(0)} ms`)
  t.match(report.lease?.ip, /^10\.78\.0\.([5-9]\d)$/, 'leased an address from the range')
  t.equal(report.lease?.router, '10.78.0.1', 'router is the host')
  t.equal(report.pings['10.78.0.1'], true, 'guest -> host')
  t.equal(report.pings['203.0.113.2'], true, 'guest -> outside (masqueraded)')
  t.equal(report.tcp[tcpKey('203.0.113.2', 8080)], true, 'TCP to the outside')
  const leases = await net.leases()
  t.ok(leases.some((l) => l.mac === mac && l.ip === report.lease?.ip), 'kvmnet lists the lease')
  await net.down()
  await assertNothingLeft(t, host, 'qemu')
})

t.test('two QEMU guests on one NAT network, booted with their ports\' MACs, lease their reservations and reach each other', { skip: support.ok ? false : support.reason }, async (t) => {
  const { host } = await hostWithInternet(t, '10.79.0.0/24')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(
    validateSpec({
      name: 'qemu2',
      mode: 'nat',
      ipv4: {
        address: '10.79.0.1/24',
        dhcp: {
          range: ['10.79.0.50', '10.79.0.99'],
          hosts: [
            { mac: '52:54:00:4b:01:01', ip: '10.79.0.11', name: 'vma' },
            { mac: '52:54:00:4b:01:02', ip: '10.79.0.12', name: 'vmb' },
          ],
        },
      },
      ports: [
        { name: 'vma', mac: '52:54:00:4b:01:01' },
        { name: 'vmb', mac: '52:54:00:4b:01:02' },
      ],
    }),
    { netns: host.name, stateRoot },
  )
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  const ports = await net.ports()
  const [a, b] = await Promise.all(
    ports.map((p, i) =>
      bootGuest({
        netnsPath: host.path,
        tapName: p.name,
        // The MAC the port reports is what the VM manager gives QEMU.
        mac: p.mac,
        checks: { ping: ['10.79.0.1', i === 0 ? '10.79.0.12' : '10.79.0.11'], tcp: [{ host: i === 0 ? '10.79.0.12' : '10.79.0.11', port: 7000 }], listen: 7000, waitForPeers: 60 },
      }),
    ),
  )
  t.comment(`guests booted (${a?.accel}) in ${a?.bootMs.toFixed(0)} / ${b?.bootMs.toFixed(0)} ms`)
  t.equal(a?.lease?.ip, '10.79.0.11', 'guest a leased its reservation')
  t.equal(b?.lease?.ip, '10.79.0.12', 'guest b leased its reservation')
  t.equal(a?.pings['10.79.0.12'], true, 'a -> b ping')
  t.equal(b?.pings['10.79.0.11'], true, 'b -> a ping')
  t.equal(a?.tcp[tcpKey('10.79.0.12', 7000)], true, 'a -> b TCP')
  t.equal(b?.tcp[tcpKey('10.79.0.11', 7000)], true, 'b -> a TCP')
  await net.down()
  await assertNothingLeft(t, host, 'qemu2')
})

t.test('two QEMU guests with static addresses on a very-isolated network reach each other', { skip: support.ok ? false : support.reason }, async (t) => {
  const host = await makeNs(t, 'kvq')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(
    validateSpec({ name: 'qemu3', mode: 'very-isolated', ports: [{ name: 'vmc' }, { name: 'vmd' }] }),
    { netns: host.name, stateRoot },
  )
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  const ports = await net.ports()
  const addr = ['10.79.1.11', '10.79.1.12']
  const [c, d] = await Promise.all(
    ports.map((p, i) =>
      bootGuest({
        netnsPath: host.path,
        tapName: p.name,
        mac: p.mac,
        checks: { address: `${addr[i]}/24`, ping: [addr[1 - i] ?? ''], tcp: [{ host: addr[1 - i] ?? '', port: 7000 }], listen: 7000, waitForPeers: 60 },
      }),
    ),
  )
  t.equal(c?.pings[addr[1] ?? ''], true, 'c -> d')
  t.equal(d?.pings[addr[0] ?? ''], true, 'd -> c')
  await net.down()
  await assertNothingLeft(t, host, 'qemu3')
})

t.test('a QEMU guest gets an IPv6 address by SLAAC (kernel only, no client) and pings the outside over IPv6 (NAT66)', { skip: support.ok ? false : support.reason }, async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.79.2.0/24')
  await host.ip(['addr add 2001:db8:1::1/64 dev uplink0 nodad', 'route add default via 2001:db8:1::2'].join('\n'))
  await inet.ip('addr add 2001:db8:1::2/64 dev eth0 nodad')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const mac = '52:54:00:4b:02:01'
  const net = createNetwork(
    validateSpec({
      name: 'qemu6',
      mode: 'nat',
      ipv4: { address: '10.79.2.1/24', dhcp: { range: ['10.79.2.50', '10.79.2.99'] } },
      ipv6: { address: 'fd00:79:2::1/64', nat66: true },
      ports: [{ name: 'vm6', mac }],
    }),
    { netns: host.name, stateRoot },
  )
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  const report = await bootGuest({ netnsPath: host.path, tapName: 'vm6', mac, checks: { slaac: 30, ping: ['fd00:79:2::1', '2001:db8:1::2'] } })
  t.match(report.addr6, /^fd00:79:2:0?:/, `SLAAC address ${report.addr6}`)
  t.equal(report.pings['fd00:79:2::1'], true, 'guest -> host over IPv6')
  t.equal(report.pings['2001:db8:1::2'], true, 'guest -> outside over IPv6 (NAT66)')
  await net.down()
  await assertNothingLeft(t, host, 'qemu6')
})
