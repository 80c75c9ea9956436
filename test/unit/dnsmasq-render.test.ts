/** Golden tests of the rendered dnsmasq config, hosts file and addn-hosts (no root needed). */
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dnsmasqPaths, renderConfig, type DnsmasqSpec } from '../../src/dnsmasq/index.js'

const GOLDEN = fileURLToPath(new URL('./fixtures/dnsmasq/golden/', import.meta.url))
const paths = dnsmasqPaths('/run/kvmnet/host/lab/dnsmasq')

function golden(t: Test, name: string, actual: string): void {
  const file = `${GOLDEN}${name}`
  if (process.env.KVMNET_UPDATE_GOLDEN) writeFileSync(file, actual)
  t.equal(actual, readFileSync(file, 'utf8'), `${name} matches the golden file`)
}

const full: DnsmasqSpec = {
  network: 'lab',
  interface: 'kvbr-lab',
  subnet: '192.168.100.0/24',
  hostAddress: '192.168.100.1',
  dhcp: {
    range: ['192.168.100.100', '192.168.100.199'],
    leaseTime: 7200,
    hosts: [
      { mac: '52:54:00:AA:00:01', ip: '192.168.100.20', name: 'vm1' },
      { mac: '52:54:00:aa:00:02', ip: '192.168.100.21', leaseTime: 'infinite' },
      { mac: '52:54:00:aa:00:03', ip: '192.168.100.22', name: 'db.lab.test', leaseTime: 600 },
    ],
    mtu: 1450,
  },
  dns: { domain: 'lab.test', hosts: [{ name: 'www', ip: '192.168.100.7' }, { name: 'v6', ip: 'fd00:100::7' }], forwarders: ['192.0.2.53', '2001:db8::53#5353'] },
}

t.test('full spec', async (t) => {
  const r = renderConfig(full, paths)
  golden(t, 'full.conf', r.conf)
  golden(t, 'full.dhcp-hosts', r.hostsFile)
  golden(t, 'full.addn-hosts', r.addnHosts)
})

t.test('DHCP only, isolated (no router), detached as nobody', async (t) => {
  const r = renderConfig(
    { network: 'iso', interface: 'br-iso', subnet: '10.20.0.0/16', hostAddress: '10.20.0.1', dhcp: { range: ['10.20.1.0', '10.20.1.255'], router: false, leaseTime: 'infinite' }, dns: false },
    paths,
    { user: 'nobody' },
  )
  golden(t, 'dhcp-only.conf', r.conf)
  t.equal(r.hostsFile, '')
  t.equal(r.addnHosts, '')
})

t.test('DNS only, defaults', async (t) => {
  const r = renderConfig({ network: 'dns', interface: 'br0', subnet: '198.51.100.0/24', hostAddress: '198.51.100.1' }, paths)
  golden(t, 'dns-only.conf', r.conf)
})

t.test("upstream: forwarders when listed, else the resolv.conf given (dnsmasq's resolv-file), else none", async (t) => {
  const base = { network: 'up', interface: 'br0', subnet: '198.51.100.0/24', hostAddress: '198.51.100.1' }
  const lines = (dns: object) => renderConfig({ ...base, dns }, paths).conf.split('\n').filter((l) => /^(no-resolv|resolv-file=|server=)/.test(l))
  t.same(lines({ resolvFile: '/etc/netns/lab/resolv.conf' }), ['resolv-file=/etc/netns/lab/resolv.conf'], 'the resolv.conf, followed by dnsmasq')
  t.same(lines({ resolvFile: '/etc/resolv.conf', forwarders: [] }), ['no-resolv'], 'forwarders: [] is local-only, whatever resolv.conf says')
  t.same(lines({ resolvFile: '/etc/resolv.conf', forwarders: ['192.0.2.53'] }), ['no-resolv', 'server=192.0.2.53'], 'listed forwarders only')
  t.same(lines({}), ['no-resolv'], 'neither: local names only')
  const err = t.throws(() => renderConfig({ ...base, dns: { resolvFile: 'etc/resolv.conf' } }, paths)) as { field?: string }
  t.equal(err.field, 'dns.resolvFile', 'a relative resolvFile is refused, naming the field')
})

t.test('properties every config has', async (t) => {
  const { conf } = renderConfig(full, paths)
  const lines = conf.split('\n')
  for (const must of ['bind-interfaces', 'except-interface=lo', 'no-resolv', 'no-hosts', 'dhcp-authoritative', 'no-ping', 'dhcp-rapid-commit', 'log-facility=-']) {
    t.ok(lines.includes(must), must)
  }
  t.ok(lines.includes(`pid-file=${paths.pidFile}`) && lines.includes(`dhcp-leasefile=${paths.leaseFile}`), 'pid and lease file in the state dir')
  t.notOk(/^dhcp-host=/m.test(conf), 'reservations live in the hosts file (re-read on SIGHUP), not in the config')
  t.equal(renderConfig(full, paths).conf, conf, 'deterministic')
})
