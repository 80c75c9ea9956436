/**
 * A real QEMU guest (Debian kernel, busybox initramfs, virtio-net) on a kvmnet NAT network through a
 * kvmnet tap: it leases an address from kvmnet's dnsmasq and reaches the "internet" namespace, which has
 * no route back to the guest subnet — every reply proves kvmnet's masquerade.
 */
import t from 'tap'
import { rm } from 'node:fs/promises'
import { createNetwork } from '../../src/index.js'
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
    {
      name: 'qemu',
      mode: 'nat',
      ipv4: { address: '10.78.0.1/24', dhcp: { range: ['10.78.0.50', '10.78.0.99'] } },
      dns: { domain: 'qemu.test' },
      ports: [{ name: 'vm0', mac, vnetHdr: true }],
    },
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
