/**
 * doctor's additions beyond the firewalls kvmnet coexists with: iptables-legacy rules beside nftables
 * (real x_tables rules made with Debian's iptables-legacy), and reverse-path filtering that really drops a
 * network's traffic (strict rp_filter with a route that sends part of the subnet elsewhere) — proved with
 * a counter before the input hook's routing decision, not only by doctor's word.
 */
import t, { type Test } from 'tap'
import { createNetwork, doctor, validateSpec } from '../../src/index.js'
import { hostWithOutside, guestOn } from '../helpers/coexist.js'
import { ping } from '../helpers/guest.js'
import type { TestNs } from '../helpers/ns.js'

const P = 'kvco'

async function natNet(t: Test, host: TestNs, n: number) {
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(validateSpec({ name: `cx${n}`, mode: 'nat', ipv4: { address: `10.235.${n}.1/24`, dhcp: { range: [`10.235.${n}.100`, `10.235.${n}.150`] } } }), { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  return { net, stateRoot }
}

t.test('iptables-legacy rules beside nftables are named: blocking ones as errors', async (t) => {
  const { host } = await hostWithOutside(t, P)
  const { stateRoot } = await natNet(t, host, 1)
  t.same((await doctor({ netns: host.name, stateRoot })).findings, [], 'clean first')
  await host.run('iptables-legacy', ['-A', 'INPUT', '-s', '192.0.2.9', '-j', 'ACCEPT'])
  let r = await doctor({ netns: host.name, stateRoot })
  let f = r.findings.find((x) => x.code === 'iptables-legacy')
  t.equal(f?.severity, 'warning', JSON.stringify(r.findings))
  t.match(f?.object, /^iptables-legacy-save: ip tables filter \(1 rule\)$/)
  await host.run('iptables-legacy', ['-P', 'FORWARD', 'DROP'])
  r = await doctor({ netns: host.name, stateRoot })
  f = r.findings.find((x) => x.code === 'iptables-legacy')
  t.equal(f?.severity, 'error')
  t.match(f?.object, /FORWARD policy DROP/)
  t.match(f?.fix, /iptables-legacy -P FORWARD ACCEPT/)
})

t.test('strict rp_filter is reported only where the kernel really drops: a route sending part of the subnet elsewhere', async (t) => {
  const { host } = await hostWithOutside(t, P)
  const { stateRoot } = await natNet(t, host, 2)
  await host.run('sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=1'])
  const rp = async () => (await doctor({ netns: host.name, stateRoot })).findings.filter((f) => f.code === 'rp-filter-drop')
  t.same(await rp(), [], 'strict rp_filter alone drops nothing: the subnet is routed through the bridge')

  // A VPN-like route for the upper half of the subnet (where .150, the end of the DHCP range, is).
  await host.ip('route add 10.235.2.128/25 via 203.0.113.2 dev uplink0')
  const found = await rp()
  t.equal(found.length, 1, JSON.stringify(found))
  t.match(found[0]?.object, /net\.ipv4\.conf\.kvbr-cx2\.rp_filter=1 \(strict\)/)
  t.match(found[0]?.problem, /from 10\.235\.2\.150, arriving on kvbr-cx2.*route back to 10\.235\.2\.150 leaves through uplink0/)

  // The kernel's verdict, seen on real packets: a guest at .150 pings the host; a counter at the input hook
  // (after the routing decision, where rp_filter drops) sees its packets only without strict rp_filter.
  const g = await guestOn(t, host, 'kvbr-cx2', 'cx2-v0', P)
  await g.ip('addr add 10.235.2.150/24 dev eth0')
  await host.run('nft', ['add table inet kvcotest; add chain inet kvcotest in { type filter hook input priority -500; policy accept; }; add rule inet kvcotest in ip saddr 10.235.2.150 counter'])
  const counted = async () => Number((await host.run('nft', ['list', 'chain', 'inet', 'kvcotest', 'in'])).match(/packets (\d+)/)?.[1] ?? -1)
  await ping(g, '10.235.2.1')
  t.equal(await counted(), 0, 'strict: dropped before the input hook')
  await host.run('sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=2', 'net.ipv4.conf.kvbr-cx2.rp_filter=2'])
  t.same(await rp(), [], 'loose rp_filter: a route back exists, nothing reported')
  // The guest's neighbour entry for the host failed while strict rp_filter dropped its ARP: a few pings
  // give it the time to resolve again (the verdict asked about is the input hook's, not ARP's).
  for (let i = 0; i < 5 && (await counted()) === 0; i++) await ping(g, '10.235.2.1')
  t.ok((await counted()) > 0, 'loose: the packets reach the input hook')
})
