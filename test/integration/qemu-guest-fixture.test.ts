/**
 * Proves the QEMU guest harness (test/helpers/qemu.ts) against a NAT network built by hand with iproute2,
 * nft and dnsmasq, so the harness is known-good before kvmnet's own network layer is tested with it:
 *
 *   guest --virtio/tap kvtap0-- [kve host ns: br0 10.77.0.1/24, dnsmasq, masquerade] --veth-- [kve inet ns: 203.0.113.2]
 *
 * The "internet" namespace has no route back to 10.77.0.0/24, so every reply the guest gets from it
 * proves the masquerade rule did its job. The first part needs no root and no qemu: it pins the pure
 * pieces (cpio writer, serial parser, check encoding, module ordering) with exact expectations.
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SpecError } from '../../src/errors.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { bootGuest, GuestBootError, guestSupport, parseGuestSerial, tcpKey } from '../helpers/qemu.js'
import { encodeNewc } from '../helpers/guest-image/newc.js'
import { checksCmdline } from '../helpers/guest-image/checks.js'
import { resolveModules } from '../helpers/guest-image/kernel-modules.js'
import { isDynamicElf, parseLdd } from '../helpers/guest-image/busybox.js'

t.test('newc writer: exact bytes of a tiny archive', async (t) => {
  const bytes = encodeNewc([
    { kind: 'dir', path: '/etc' },
    { kind: 'file', path: '/etc/x', data: Buffer.from('hi\n'), mode: 0o644 },
    { kind: 'symlink', path: '/sh', target: 'busybox' },
    { kind: 'char', path: '/dev/console', major: 5, minor: 1 },
  ])
  const h = (ino: number, mode: number, nlink: number, size: number, rmaj: number, rmin: number, namesize: number): string =>
    '070701' + [ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin, namesize, 0].map((n) => n.toString(16).padStart(8, '0')).join('')
  const expected = Buffer.concat([
    // 110-byte header + "etc\0" = 114 -> 2 pad bytes.
    Buffer.from(h(1, 0o040755, 2, 0, 0, 0, 4) + 'etc\0' + '\0\0', 'latin1'),
    // header + "etc/x\0" = 116, aligned; "hi\n" padded to 4.
    Buffer.from(h(2, 0o100644, 1, 3, 0, 0, 6) + 'etc/x\0' + 'hi\n\0', 'latin1'),
    // header + "sh\0" = 113 -> 3 pad; target "busybox" (7) -> 1 pad.
    Buffer.from(h(3, 0o120777, 1, 7, 0, 0, 3) + 'sh\0' + '\0\0\0' + 'busybox\0', 'latin1'),
    // header + "dev/console\0" = 122 -> 2 pad.
    Buffer.from(h(4, 0o020600, 1, 0, 5, 1, 12) + 'dev/console\0' + '\0\0', 'latin1'),
    // header + "TRAILER!!!\0" = 121 -> 3 pad.
    Buffer.from(h(0, 0, 1, 0, 0, 0, 11) + 'TRAILER!!!\0' + '\0\0\0', 'latin1'),
  ])
  t.equal(bytes.toString('hex'), expected.toString('hex'))
  t.equal(bytes.length % 4, 0)
  t.throws(() => encodeNewc([{ kind: 'dir', path: '/a/../b' }]), /bad entry path/)
})

t.test('serial parser: result lines amid kernel noise', async (t) => {
  const serial = [
    '[    1.234] virtio_net virtio0 eth0: renamed',
    'KVMNET-RESULT boot uptime=0.91\r',
    'KVMNET-RESULT mac=52:54:00:aa:bb:cc',
    'noise KVMNET-RESULT lease=10.77.0.57/24 router=10.77.0.1 dns=10.77.0.1,10.77.0.2\r',
    'KVMNET-RESULT ping 203.0.113.2 ok',
    'KVMNET-RESULT ping 198.51.100.9 fail',
    'KVMNET-RESULT tcp 203.0.113.2/8080 ok',
    'KVMNET-RESULT tcp 2001:db8::1/22 fail',
    'KVMNET-RESULT error "no eth0"',
    'KVMNET-RESULT done',
  ].join('\n')
  t.same(parseGuestSerial(serial), {
    lease: { ip: '10.77.0.57', prefix: 24, router: '10.77.0.1', dns: ['10.77.0.1', '10.77.0.2'] },
    mac: '52:54:00:aa:bb:cc',
    pings: { '203.0.113.2': true, '198.51.100.9': false },
    tcp: { '203.0.113.2:8080': true, '[2001:db8::1]:22': false },
    errors: ['no eth0'],
    done: true,
  })
  t.same(parseGuestSerial('KVMNET-RESULT lease=10.0.0.5/8\n'), { lease: { ip: '10.0.0.5', prefix: 8 }, pings: {}, tcp: {}, errors: [], done: false })
  t.equal(tcpKey('203.0.113.2', 80), '203.0.113.2:80')
  t.equal(tcpKey('2001:db8::1', 80), '[2001:db8::1]:80')
})

t.test('checks: kernel command line and typed refusals', async (t) => {
  t.same(checksCmdline({ ping: ['203.0.113.2', '10.0.0.1'], tcp: [{ host: '203.0.113.2', port: 80 }, { host: '2001:db8::1', port: 22 }] }), [
    'kvmnet.ping=203.0.113.2,10.0.0.1',
    'kvmnet.tcp=203.0.113.2/80,2001:db8::1/22',
  ])
  t.same(checksCmdline({}), [])
  t.throws(() => checksCmdline({ ping: ['203.0.113.2', 'example.com'] }), { name: 'SpecError', field: 'checks.ping[1]' })
  t.throws(() => checksCmdline({ tcp: [{ host: '203.0.113.2', port: 80 }, { host: '203.0.113.2', port: 70000 }] }), {
    name: 'SpecError',
    field: 'checks.tcp[1].port',
  })
  // Refused before anything is touched: neither the namespace nor the kernel is looked at.
  await t.rejects(bootGuest({ netnsPath: '/run/netns/kve-nonexistent', tapName: 'kvtap0', mac: '52:54:00:00:00:zz', checks: {} }), {
    name: 'SpecError',
    field: 'mac',
  })
  await t.rejects(bootGuest({ netnsPath: '/run/netns/kve-nonexistent', tapName: 'kvtap0', mac: '53:54:00:00:00:01', checks: {} }), {
    name: 'SpecError',
    field: 'mac',
  })
  await t.rejects(
    bootGuest({ netnsPath: '/run/netns/kve-nonexistent', tapName: 'kvtap0', mac: '52:54:00:00:00:01', checks: { tcp: [{ host: 'x', port: 1 }] } }),
    SpecError,
  )
})

t.test('kernel modules: dependencies first, built-ins skipped', async (t) => {
  const dep = [
    'kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz',
    'kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz',
    'kernel/net/core/failover.ko.xz:',
    'kernel/drivers/virtio/virtio.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz',
    'kernel/drivers/virtio/virtio_ring.ko.xz:',
  ].join('\n')
  const order = resolveModules(['af_packet', 'virtio-net'], dep, 'kernel/net/packet/af_packet.ko\n')
  t.same(
    order.map((m) => m.imagePath),
    ['kernel/net/core/failover.ko', 'kernel/drivers/net/net_failover.ko', 'kernel/drivers/virtio/virtio_ring.ko', 'kernel/drivers/virtio/virtio.ko', 'kernel/drivers/net/virtio_net.ko'],
  )
  t.throws(() => resolveModules(['e1000'], dep, ''), { name: 'NotFoundError' })
})

t.test('busybox: ldd parsing and ELF interpreter detection', async (t) => {
  t.same(
    parseLdd('\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f06)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f07)\n'),
    ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'],
  )
  t.equal(isDynamicElf(readFileSync(process.execPath)), true, 'node itself is dynamically linked')
  t.equal(isDynamicElf(Buffer.from('#!/bin/sh\n')), false)
})

interface Fixture {
  host: TestNs
  inet: TestNs
  leaseFile: string
}

/** br0 + dnsmasq + masquerade in a "host" namespace, uplinked to an "internet" namespace; tap kvtap0 on br0. */
async function natFixture(t: Test): Promise<Fixture> {
  const host = await makeNs(t, 'kve')
  const inet = await makeNs(t, 'kve')
  const dir = mkdtempSync(join(tmpdir(), 'kve-dnsmasq-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  await host.ip(
    [
      'link add br0 type bridge',
      'addr add 10.77.0.1/24 dev br0',
      'link set br0 up',
      'tuntap add kvtap0 mode tap',
      'link set kvtap0 master br0',
      'link set kvtap0 up',
      `link add up0 type veth peer name inet0 netns ${inet.name}`,
      'addr add 203.0.113.1/24 dev up0',
      'link set up0 up',
    ].join('\n'),
  )
  // No route back to 10.77.0.0/24 here on purpose: replies reach the guest only through the masquerade.
  await inet.ip(['addr add 203.0.113.2/24 dev inet0', 'link set inet0 up'].join('\n'))
  // nsenter puts sysctl in the namespace's own /proc/sys/net view, never the root namespace's.
  await host.run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'])
  await host.run('nft', ['-f', '-'], {
    input: [
      'table ip kve_fixture {',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    ip saddr 10.77.0.0/24 oifname "up0" counter masquerade',
      '  }',
      '}',
    ].join('\n'),
  })

  const leaseFile = join(dir, 'leases')
  host.spawn('dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    '--interface=br0',
    '--except-interface=lo',
    '--dhcp-range=10.77.0.50,10.77.0.99,255.255.255.0,1h',
    '--no-ping',
    `--dhcp-leasefile=${leaseFile}`,
    '--pid-file=',
    // Root keeps write access to the lease file in the root-owned temp dir.
    '--user=root',
    '--group=root',
    '--log-facility=-',
    '--log-dhcp',
  ])
  await waitFor(async () => (await host.run('ss', ['-Hlun', 'sport = :67'])).includes(':67'), 10_000)

  // A TCP service in the "internet": the connection is accepted and closed at once.
  inet.spawn('busybox', ['nc', '-ll', '-p', '8080', '-e', '/bin/true'])
  await waitFor(async () => (await inet.run('ss', ['-Hltn', 'sport = :8080'])).includes(':8080'), 10_000)
  return { host, inet, leaseFile }
}

function randomMac(): string {
  return `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`
}

function inRange(ip: string, lo: number, hi: number): boolean {
  const m = ip.match(/^10\.77\.0\.(\d+)$/)
  return !!m && Number(m[1]) >= lo && Number(m[1]) <= hi
}

const support = guestSupport()
const rootReason = process.getuid?.() === 0 ? undefined : 'needs root (namespaces, taps)'
const skip = rootReason ?? (support.ok ? undefined : support.reason)

t.test('a real guest leases from dnsmasq and reaches the internet namespace through NAT', { skip: skip ?? false }, async (t) => {
  const fx = await natFixture(t)
  const mac = randomMac()
  const report = await bootGuest({
    netnsPath: fx.host.path,
    tapName: 'kvtap0',
    mac,
    timeoutMs: 240_000,
    checks: {
      ping: ['10.77.0.1', '203.0.113.2', '198.51.100.9'],
      tcp: [
        { host: '203.0.113.2', port: 8080 },
        { host: '203.0.113.2', port: 8081 },
      ],
    },
  })
  t.comment(`guest booted and finished in ${report.bootMs} ms with ${report.accel}`)

  t.same(report.errors, [], 'the guest reported no problem')
  t.equal(report.mac, mac, 'the guest NIC has the MAC asked for')
  t.ok(report.lease, 'the guest leased an address')
  t.ok(report.lease && inRange(report.lease.ip, 50, 99), `lease ${report.lease?.ip} is in 10.77.0.50-99`)
  t.equal(report.lease?.prefix, 24)
  t.equal(report.lease?.router, '10.77.0.1')
  t.same(report.lease?.dns, ['10.77.0.1'])

  t.equal(report.pings['10.77.0.1'], true, 'pings its gateway')
  t.equal(report.pings['203.0.113.2'], true, 'pings the internet namespace')
  t.equal(report.pings['198.51.100.9'], false, 'an unroutable address does not answer (the check can fail)')
  t.equal(report.tcp[tcpKey('203.0.113.2', 8080)], true, 'connects to a TCP service in the internet namespace')
  t.equal(report.tcp[tcpKey('203.0.113.2', 8081)], false, 'a closed port is reported as such')

  // The other side of the same facts, seen from the host: dnsmasq recorded the lease, the masquerade rule counted.
  const leases = readFileSync(fx.leaseFile, 'utf8')
  t.match(leases, new RegExp(`\\b${mac}\\s+${report.lease?.ip.replace(/\./g, '\\.')}\\b`), 'dnsmasq lease file has the guest')
  const ruleset = await fx.host.run('nft', ['list', 'table', 'ip', 'kve_fixture'])
  const packets = Number(ruleset.match(/counter packets (\d+)/)?.[1] ?? 0)
  t.ok(packets > 0, `masquerade rule matched ${packets} packets`)
})

t.test('a guest that cannot finish in time is killed by PID and reported', { skip: skip ?? false }, async (t) => {
  const host = await makeNs(t, 'kve')
  await host.ip(['tuntap add kvtap0 mode tap', 'link set kvtap0 up'].join('\n'))
  const err = await bootGuest({ netnsPath: host.path, tapName: 'kvtap0', mac: randomMac(), timeoutMs: 1500, checks: {} }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.type(err, GuestBootError)
  const pid = (err as GuestBootError).pid
  t.ok(pid, 'qemu had a PID')
  t.throws(() => process.kill(pid!, 0), { code: 'ESRCH' }, 'qemu is gone')
})
