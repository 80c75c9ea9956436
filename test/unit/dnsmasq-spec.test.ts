/** Validation of DnsmasqSpec: each bad value is a SpecError naming its field; all issues are collected. */
import t from 'tap'
import { validateDnsmasqSpec, type DnsmasqSpec } from '../../src/dnsmasq/index.js'
import { SpecError } from '../../src/errors.js'

const base = (): DnsmasqSpec => ({
  network: 'lab',
  interface: 'br0',
  subnet: '192.168.100.0/24',
  hostAddress: '192.168.100.1',
  dhcp: { range: ['192.168.100.100', '192.168.100.150'], hosts: [{ mac: '52:54:00:00:00:01', ip: '192.168.100.20', name: 'vm1' }] },
  dns: { domain: 'lab.test' },
})

function fieldOf(spec: unknown): string | undefined {
  try {
    validateDnsmasqSpec(spec)
    return undefined
  } catch (err) {
    if (err instanceof SpecError) return err.field
    throw err
  }
}

t.test('valid specs pass', async (t) => {
  t.equal(fieldOf(base()), undefined)
  t.equal(fieldOf({ ...base(), dhcp: undefined }), undefined, 'DNS only')
  t.equal(fieldOf({ ...base(), dns: false }), undefined, 'DHCP only')
  t.equal(fieldOf({ ...base(), dns: { hosts: [{ name: 'a', ip: '192.0.2.1' }, { name: 'a', ip: '2001:db8::1' }] } }), undefined, 'A and AAAA for a name')
  t.equal(fieldOf({ ...base(), dhcp: { range: ['192.168.100.2', '192.168.100.254'], leaseTime: 'infinite' } }), undefined, 'whole subnet but the host')
})

t.test('each bad value names its field', async (t) => {
  const cases: Array<[string, (s: DnsmasqSpec) => unknown]> = [
    ['network', (s) => ({ ...s, network: 'a b' })],
    ['interface', (s) => ({ ...s, interface: 'br0\nport=53' })],
    ['subnet', (s) => ({ ...s, subnet: '192.168.100.0/31' })],
    ['hostAddress', (s) => ({ ...s, hostAddress: '192.168.100.255' })],
    ['dhcp.range', (s) => ({ ...s, dhcp: { range: ['192.168.100.1', '192.168.100.9'] } })],
    ['dhcp.range[0]', (s) => ({ ...s, dhcp: { range: ['192.168.100.0', '192.168.100.9'] } })],
    ['dhcp.leaseTime', (s) => ({ ...s, dhcp: { ...s.dhcp!, leaseTime: 3600.5 } })],
    ['dhcp.router', (s) => ({ ...s, dhcp: { ...s.dhcp!, router: '10.0.0.1' } })],
    ['dhcp.dnsServer', (s) => ({ ...s, dhcp: { ...s.dhcp!, dnsServer: 'one.one' } })],
    ['dhcp.hosts[0].mac', (s) => ({ ...s, dhcp: { ...s.dhcp!, hosts: [{ mac: '00:00:00:00:00:00', ip: '192.168.100.20' }] } })],
    ['dhcp.hosts[0].name', (s) => ({ ...s, dhcp: { ...s.dhcp!, hosts: [{ mac: '52:54:00:00:00:01', ip: '192.168.100.20', name: '-bad' }] } })],
    ['dhcp.hosts[0].name', (s) => ({ ...s, dhcp: { ...s.dhcp!, hosts: [{ mac: '52:54:00:00:00:01', ip: '192.168.100.20', name: 'x#y' }] } })],
    ['dns.hosts[1]', (s) => ({ ...s, dns: { hosts: [{ name: 'a', ip: '192.0.2.1' }, { name: 'A', ip: '192.0.2.1' }] } })],
    ['dns.hosts[0].ip', (s) => ({ ...s, dns: { hosts: [{ name: 'a', ip: 'fe80::1%eth0' }] } })],
    ['dns.forwarders[0]', (s) => ({ ...s, dns: { forwarders: ['192.0.2.1#0'] } })],
    ['dns', (s) => ({ ...s, dns: 'yes' })],
    ['dhcp.hosts', (s) => ({ ...s, dhcp: { ...s.dhcp!, hosts: {} } })],
    ['stateDir', (s) => ({ ...s, stateDir: 'relative/dir' })],
    ['stateDir', (s) => ({ ...s, stateDir: '/run/a dir' })],
    ['bogus', (s) => ({ ...s, bogus: 1 })],
    ['', () => null],
  ]
  for (const [field, make] of cases) t.equal(fieldOf(make(base())), field, `refused at '${field}'`)
})

t.test('all issues are reported at once', async (t) => {
  const err = t.throws(() =>
    validateDnsmasqSpec({ ...base(), network: '', dhcp: { range: ['192.168.100.150', '192.168.100.100'], hosts: [{ mac: 'x', ip: 'y' }] } }),
  ) as SpecError
  t.ok(err instanceof SpecError)
  t.same(
    err.issues.map((i) => i.field),
    ['network', 'dhcp.range', 'dhcp.hosts[0].mac', 'dhcp.hosts[0].ip'],
  )
  t.match(err.message, /^network: .*\(and 3 more\)$/)
})
