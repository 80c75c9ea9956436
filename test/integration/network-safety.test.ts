/**
 * A guest as an attacker: with a forward reachable from the host's 127.0.0.1 (route_localnet on the
 * bridge), a guest that routes 127.0.0.1 at the host must not reach services the host binds to loopback;
 * the host's own 127.0.0.1:port forward keeps working.
 */
import t from 'tap'
import { execa } from 'execa'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, validateSpec, SpecError } from '../../src/index.js'
import { configuredLinks } from '../helpers/ip.js'
import { dhcp, hostWithInternet, guestOnBridge, tcpGet, tcpServer } from '../helpers/guest.js'
import { makeNs, waitFor } from '../helpers/ns.js'

t.test("no guest reaches the host's 127.0.0.1, while forwards from the host's loopback still work", async (t) => {
  const { host } = await hostWithInternet(t, '10.218.0.0/24')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(
    validateSpec({
      name: 'lo-guard',
      mode: 'nat',
      ipv4: { address: '10.218.0.1/24' },
      // The README's own example: a forward with neither hostAddress nor inInterface.
      forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.218.0.10', guestPort: 80 }],
    }),
    { netns: host.name, stateRoot },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  t.equal((await host.run('sysctl', ['-n', 'net.ipv4.conf.kvbr-lo-guard.route_localnet'])).trim(), '1', 'route_localnet is on (the forward needs it)')
  // A service the host binds to loopback only.
  host.spawn('socat', ['TCP-LISTEN:9999,bind=127.0.0.1,reuseaddr,fork', 'SYSTEM:echo secret'])
  await waitFor(async () => (await host.run('ss', ['-Hltn', 'sport = :9999'])).trim() !== '')
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-lo')
  await guest.ip(['addr add 10.218.0.10/24 dev eth0', 'route add default via 10.218.0.1'].join('\n'))
  tcpServer(guest, 80, 'guest')
  await waitFor(async () => (await guest.run('ss', ['-Hltn', 'sport = :80'])).trim() !== '')
  // The attacker's own kernel: send 127.0.0.1 out of eth0 to the host.
  await guest.run('sysctl', ['-qw', 'net.ipv4.conf.eth0.route_localnet=1'])
  await guest.ip(
    ['route del local 127.0.0.0/8 dev lo table local', 'route del local 127.0.0.1 dev lo table local', 'addr flush dev lo', 'route add 127.0.0.1/32 via 10.218.0.1 dev eth0'].join('\n'),
  )
  const stolen = await tcpGet(guest, '127.0.0.1', 9999)
  t.equal(stolen, undefined, `the guest got no answer from the host's loopback (${stolen ?? 'nothing'})`)
  t.match(await tcpGet(host, '127.0.0.1', 8080), /^guest /, "the host's 127.0.0.1:8080 still reaches the guest")
  await net.down()
})

t.test("host.services 'dhcp-dns': guests lease and resolve, but reach no other host service on any host address", async (t) => {
  const { host } = await hostWithInternet(t, '10.218.1.0/24')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const spec = (services: unknown) =>
    validateSpec({
      name: 'svc',
      mode: 'nat',
      ipv4: { address: '10.218.1.1/24', dhcp: { range: ['10.218.1.100', '10.218.1.150'] } },
      dns: { domain: 'svc.test', hosts: [{ name: 'gw', ip: '10.218.1.1' }] },
      host: { services },
    })
  const net = createNetwork(spec('dhcp-dns'), { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  tcpServer(host, 2222, 'host-service')
  await waitFor(async () => (await host.run('ss', ['-Hltn', 'sport = :2222'])).trim() !== '')
  const guest = await guestOnBridge(t, host, net.bridge!, 'g-svc')
  const lease = await dhcp(guest)
  t.ok(lease, 'DHCP works')
  const dig = await guest.try('dig', ['+short', '+time=2', '+tries=1', '@10.218.1.1', 'gw.svc.test'])
  t.equal(dig.stdout.trim(), '10.218.1.1', 'DNS works')
  t.equal(await tcpGet(guest, '10.218.1.1', 2222), undefined, 'a host service on the gateway is refused')
  t.equal(await tcpGet(guest, '203.0.113.1', 2222), undefined, "and on the host's other addresses")
  await net.up(spec('all'))
  t.match(await tcpGet(guest, '10.218.1.1', 2222), /^host-service /, "with 'all' (the default) it connects")
  await net.up(spec([{ proto: 'tcp', port: 2222 }]))
  t.match(await tcpGet(guest, '10.218.1.1', 2222), /^host-service /, 'a listed service connects')
  await net.down()
})

t.test('refused at up before anything is created: a missing uplink, a forward another network already has', async (t) => {
  const host = await makeNs(t, 'kvs')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const before = await configuredLinks(host)
  const noUplink = createNetwork(validateSpec({ name: 'nou', mode: 'nat', ipv4: { address: '10.218.2.1/24' }, uplink: 'nope0' }), { netns: host.name, stateRoot })
  const err = await noUplink.up().catch((e: unknown) => e)
  t.type(err, SpecError)
  t.equal((err as SpecError).field, 'uplink', 'a missing uplink is named')
  t.same(await configuredLinks(host), before, 'nothing created')
  const first = createNetwork(validateSpec({ name: 'fwd1', mode: 'nat', ipv4: { address: '10.218.3.1/24' }, forwards: [{ proto: 'tcp', hostPort: [8000, 8010], guest: '10.218.3.10' }] }), { netns: host.name, stateRoot })
  t.teardown(() => first.down().catch(() => undefined))
  await first.up()
  const mid = await configuredLinks(host)
  const second = createNetwork(validateSpec({ name: 'fwd2', mode: 'nat', ipv4: { address: '10.218.4.1/24' }, forwards: [{ proto: 'tcp', hostPort: 8005, guest: '10.218.4.10' }] }), { netns: host.name, stateRoot })
  const clash = await second.up().catch((e: unknown) => e)
  t.type(clash, SpecError)
  t.equal((clash as SpecError).field, 'forwards[0].hostPort')
  t.match((clash as SpecError).reason, /network fwd1/)
  t.same(await configuredLinks(host), mid, 'nothing created for the second network')
  await first.down()
})

t.test('a namespace that does not exist, or a path that is not one: bad input (exit 2)', async (t) => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const cli = (args: string[]) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, reject: false })
  const missing = await cli(['status', '--netns', 'kvs-does-not-exist'])
  t.equal(missing.exitCode, 2)
  t.match(missing.stderr, /--netns: no network namespace/)
  const notNs = await cli(['status', '--netns', '/etc/hostname'])
  t.equal(notNs.exitCode, 2)
  t.match(notNs.stderr, /is not a network namespace/)
})

t.test("dnsmasq's files: the pid file is root's, the lease file is readable by root only", async (t) => {
  const host = await makeNs(t, 'kvs')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(validateSpec({ name: 'files', mode: 'nat', ipv4: { address: '10.218.5.1/24', dhcp: { range: ['10.218.5.10', '10.218.5.20'] } } }), {
    netns: host.name,
    stateRoot,
    // Detached: the dnsmasq that drops to nobody, as `kvmnet up` leaves it.
    dnsmasq: 'detached',
  })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const dir = join(net.stateDir, 'dnsmasq')
  const pid = await stat(join(dir, 'dnsmasq.pid'))
  t.equal(pid.uid, 0, 'pid file owned by root')
  t.equal(pid.mode & 0o022, 0, 'writable by no one else')
  t.equal((await stat(join(dir, 'leases'))).mode & 0o077, 0, 'lease file: root only')
  await net.down()
})
