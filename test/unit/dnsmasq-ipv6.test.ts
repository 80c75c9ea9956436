/** The IPv6 part of a network's dnsmasq config: router advertisements, DHCPv6 and its reservations. */
import t from 'tap'
import { dnsmasqPaths, renderConfig, type DnsmasqSpec } from '../../src/dnsmasq/index.js'
import { SpecError } from '../../src/errors.js'

const paths = dnsmasqPaths('/run/kvmnet/x/lab/dnsmasq')
const base: DnsmasqSpec = { network: 'lab', interface: 'kvbr-lab', subnet: '10.1.0.0/24', hostAddress: '10.1.0.1', dhcp: { range: ['10.1.0.10', '10.1.0.20'] }, dns: { domain: 'lab.test' } }

t.test('SLAAC: RA for the /64 with stateless DHCPv6, RDNSS and DNSSL, default router', async (t) => {
  const { conf } = renderConfig({ ...base, ipv6: { hostAddress: 'fd00:1::1', prefix: 'fd00:1::/64', router: true } }, paths)
  for (const line of ['listen-address=fd00:1::1', 'enable-ra', 'dhcp-range=fd00:1::,ra-stateless,64,3600', 'ra-param=kvbr-lab,10', 'dhcp-option=option6:dns-server,[fd00:1::1]', 'dhcp-option=option6:domain-search,lab.test'])
    t.ok(conf.split('\n').includes(line), line)
})

t.test('isolated: router lifetime 0; MTU advertised', async (t) => {
  const { conf } = renderConfig({ ...base, ipv6: { hostAddress: 'fd00:1::1', prefix: 'fd00:1::/64', router: false, mtu: 1450 } }, paths)
  t.ok(conf.split('\n').includes('ra-param=kvbr-lab,mtu:1450,10,0'))
})

t.test('stateful DHCPv6 with reservations by DUID and by MAC', async (t) => {
  const r = renderConfig(
    {
      ...base,
      ipv6: {
        hostAddress: 'fd00:1::1',
        prefix: 'fd00:1::/64',
        router: true,
        dhcp: { range: ['fd00:1::100', 'fd00:1::1ff'], hosts: [{ id: '00:03:00:01:52:54:00:00:00:01', ip: 'fd00:1::42', name: 'vm1' }, { mac: '52:54:00:00:00:02', ip: 'fd00:1::43' }] },
      },
    },
    paths,
  )
  t.ok(r.conf.split('\n').includes('dhcp-range=fd00:1::100,fd00:1::1ff,slaac,64,3600'))
  t.same(r.hostsFile.trim().split('\n'), ['id:00:03:00:01:52:54:00:00:00:01,[fd00:1::42],vm1', '52:54:00:00:00:02,[fd00:1::43]'])
})

t.test('refused: a prefix that is not /64, an address outside it, a reservation with neither id nor mac', async (t) => {
  const v6 = (x: object) => ({ ...base, ipv6: { hostAddress: 'fd00:1::1', prefix: 'fd00:1::/64', router: true, ...x } }) as DnsmasqSpec
  const field = (spec: DnsmasqSpec) => {
    try {
      renderConfig(spec, paths)
      return undefined
    } catch (e) {
      return (e as SpecError).field
    }
  }
  t.equal(field(v6({ prefix: 'fd00:1::/56' })), 'ipv6.prefix')
  t.equal(field(v6({ hostAddress: 'fd00:2::1' })), 'ipv6.hostAddress')
  t.equal(field(v6({ dhcp: { range: ['fd00:1::100', 'fd00:1::1ff'], hosts: [{ ip: 'fd00:1::42' }] } })), 'ipv6.dhcp.hosts[0]')
  t.equal(field(v6({ dhcp: { range: ['fd00:1::100', 'fd00:9::1ff'] } })), 'ipv6.dhcp.range[1]')
})
