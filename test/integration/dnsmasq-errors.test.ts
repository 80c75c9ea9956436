/**
 * Bad input is refused before anything is touched (a SpecError naming the field, no state dir), and a
 * dnsmasq that cannot start is reported in its own words and leaves nothing behind.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { Dnsmasq, type DnsmasqSpec } from '../../src/dnsmasq/index.js'
import { DnsmasqError, SpecError } from '../../src/errors.js'
import { processesIn } from '../helpers/leftovers.js'
import { bridgeHost } from '../unit/fixtures/dnsmasq/lab.js'

type Mutate = (s: DnsmasqSpec) => void
const hosts = (s: DnsmasqSpec) => s.dhcp!.hosts!

const BAD: Array<[string, string, Mutate]> = [
  ['bad MAC', 'dhcp.hosts[0].mac', (s) => (hosts(s)[0]!.mac = '52:54:00:zz:00:01')],
  ['multicast MAC', 'dhcp.hosts[1].mac', (s) => (hosts(s)[1]!.mac = '01:00:5e:00:00:01')],
  ['address outside the subnet', 'dhcp.hosts[1].ip', (s) => (hosts(s)[1]!.ip = '192.168.101.5')],
  ['reservation on the host address', 'dhcp.hosts[2].ip', (s) => (hosts(s)[2]!.ip = '192.168.100.1')],
  ['range inverted', 'dhcp.range', (s) => (s.dhcp!.range = ['192.168.100.150', '192.168.100.100'])],
  ['range outside the subnet', 'dhcp.range[1]', (s) => (s.dhcp!.range = ['192.168.100.100', '192.168.200.10'])],
  ['range on the broadcast address', 'dhcp.range[1]', (s) => (s.dhcp!.range = ['192.168.100.100', '192.168.100.255'])],
  ['hostname with a newline (option injection)', 'dhcp.hosts[0].name', (s) => (hosts(s)[0]!.name = 'vm1\ndhcp-script=/bin/sh')],
  ['hostname with a comma', 'dhcp.hosts[0].name', (s) => (hosts(s)[0]!.name = 'vm1,infinite')],
  ['hostname with =', 'dhcp.hosts[2].name', (s) => (hosts(s)[2]!.name = 'a=b')],
  ['hostname with a space', 'dhcp.hosts[1].name', (s) => (hosts(s)[1]!.name = 'vm 2')],
  ['duplicate MAC', 'dhcp.hosts[2].mac', (s) => (hosts(s)[2]!.mac = hosts(s)[0]!.mac.toUpperCase())],
  ['duplicate IP', 'dhcp.hosts[1].ip', (s) => (hosts(s)[1]!.ip = hosts(s)[0]!.ip)],
  ['duplicate name', 'dhcp.hosts[2].name', (s) => (hosts(s)[2]!.name = 'VM1')],
  ['bad domain', 'dns.domain', (s) => (s.dns = { domain: 'lab..test' })],
  ['domain injection', 'dns.domain', (s) => (s.dns = { domain: 'lab/#/1.2.3.4' })],
  ['lease time too short', 'dhcp.leaseTime', (s) => (s.dhcp!.leaseTime = 30)],
  ['per-host lease time not a number', 'dhcp.hosts[0].leaseTime', (s) => (hosts(s)[0]!.leaseTime = '1h' as unknown as number)],
  ['bad forwarder', 'dns.forwarders[1]', (s) => (s.dns = { forwarders: ['192.0.2.53', '192.0.2.53#99999'] })],
  ['forwarder that is a name', 'dns.forwarders[0]', (s) => (s.dns = { forwarders: ['dns.example'] })],
  ['host address outside the subnet', 'hostAddress', (s) => (s.hostAddress = '10.0.0.1')],
  ['subnet with host bits', 'subnet', (s) => (s.subnet = '192.168.100.1/24')],
  ['interface name too long', 'interface', (s) => (s.interface = 'a-very-long-bridge0')],
  ['network name with a slash', 'network', (s) => (s.network = '../etc')],
  ['state dir with ..', 'stateDir', (s) => (s.stateDir = '/run/kvmnet/../../etc')],
  ['MTU out of range', 'dhcp.mtu', (s) => (s.dhcp!.mtu = 20)],
  ['unknown field', 'dhcp.hosts[0].hostname', (s) => ((hosts(s)[0] as unknown as Record<string, string>).hostname = 'x')],
  ['DNS record with a bad address', 'dns.hosts[0].ip', (s) => (s.dns = { hosts: [{ name: 'www', ip: '192.168.100.300' }] })],
]

t.test('bad input is refused with nothing written', async (t) => {
  const host = await bridgeHost(t)
  const good = (): DnsmasqSpec =>
    host.spec({
      dhcp: {
        range: ['192.168.100.100', '192.168.100.150'],
        hosts: [
          { mac: '52:54:00:aa:00:01', ip: '192.168.100.20', name: 'vm1' },
          { mac: '52:54:00:aa:00:02', ip: '192.168.100.21', name: 'vm2' },
          { mac: '52:54:00:aa:00:03', ip: '192.168.100.22', name: 'vm3' },
        ],
      },
    })
  t.ok(BAD.length >= 15)
  for (const [what, field, mutate] of BAD) {
    const spec = good()
    mutate(spec)
    let err: unknown
    try {
      await new Dnsmasq({ path: host.ns.path, name: host.ns.name }, spec).start()
    } catch (e) {
      err = e
    }
    t.ok(err instanceof SpecError, `${what}: SpecError`)
    t.equal((err as SpecError).field, field, `${what}: names ${field}`)
    t.notOk(existsSync(host.stateDir), `${what}: state dir not created`)
  }
  t.same(processesIn(host.ns.path, 'dnsmasq'), [], 'no dnsmasq was started')

  await t.test('a bad reload leaves the running config alone', async (t) => {
    const d = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, good())
    t.teardown(() => d.stop())
    await d.start()
    const before = await import('node:fs/promises').then((fs) => fs.readFile(d.paths.hostsFile, 'utf8'))
    const bad = good()
    hosts(bad)[1]!.mac = 'not-a-mac'
    t.throws(() => d.reload(bad), SpecError)
    const after = await import('node:fs/promises').then((fs) => fs.readFile(d.paths.hostsFile, 'utf8'))
    t.equal(after, before, 'hosts file unchanged')
    t.ok(d.running)
    await d.stop()
  })
})

t.test("a failed start reports dnsmasq's own message and rolls back", async (t) => {
  const host = await bridgeHost(t)
  await t.test('address not on the bridge', async (t) => {
    const d = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, host.spec({ subnet: '192.168.77.0/24', hostAddress: '192.168.77.1', dhcp: { range: ['192.168.77.10', '192.168.77.20'] } }))
    const err = await d.start().then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(err instanceof DnsmasqError, 'DnsmasqError')
    t.match((err as DnsmasqError).detail, /failed to create listening socket for 192\.168\.77\.1: Cannot assign requested address/)
    t.equal((err as DnsmasqError).exitCode, 2, "dnsmasq's exit code")
    t.notOk(existsSync(host.stateDir), 'state dir removed')
  })
  await t.test('address in use', async (t) => {
    const squatter = host.ns.spawn('socat', ['UDP4-RECVFROM:53,bind=192.168.100.1,fork', 'SYSTEM:true'])
    await import('../helpers/ns.js').then(({ waitFor }) =>
      waitFor(async () => (await host.ns.run('ss', ['-H', '-lnu', 'sport = :53'])).includes('192.168.100.1:53')),
    )
    const d = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, host.spec())
    const err = await d.start().then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(err instanceof DnsmasqError, 'DnsmasqError')
    t.match((err as DnsmasqError).message, /dnsmasq: failed to create listening socket for 192\.168\.100\.1: Address (already )?in use/)
    t.notOk(existsSync(host.stateDir), 'state dir removed')
    squatter.kill('SIGKILL')
    await squatter
  })
  await t.test('a second start from the same state dir is refused', async (t) => {
    const a = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, host.spec())
    t.teardown(() => a.stop())
    await a.start()
    const b = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, host.spec())
    await t.rejects(b.start(), DnsmasqError)
    t.same(processesIn(host.ns.path, 'dnsmasq'), [a.pid], 'the first one untouched')
    await a.stop()
  })
})
