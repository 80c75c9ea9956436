/**
 * Docker on iptables-legacy (Docker's exact layout loaded with iptables-legacy-restore, x_tables beside
 * nftables, bridge-nf-call-iptables=1): its legacy FORWARD policy DROP drops a network's forwarded and
 * bridged traffic just as the nft one does, and kvmnet's accepts there are the same DOCKER-USER rules,
 * made with iptables-legacy, tagged `kvmnet:NET`, and removed on down (iptables-legacy-save as before).
 */
import t from 'tap'
import { createNetwork, doctor, validateSpec } from '../../src/index.js'
import { dhcp, ping } from '../helpers/guest.js'
import { bridgeNfCallIptables, DOCKER_RULES, guestOn, hostWithOutside, iptablesSave } from '../helpers/coexist.js'
import type { TestNs } from '../helpers/ns.js'

const P = 'kh'

function natSpec(n: number) {
  return { name: `khl${n}`, mode: 'nat', ipv4: { address: `10.232.${n}.1/24`, dhcp: { range: [`10.232.${n}.100`, `10.232.${n}.150`] } } }
}

/** Docker's layout in `ns` through iptables-legacy, with its docker0 bridge. */
async function legacyDocker(ns: TestNs): Promise<void> {
  await ns.ip(['link add docker0 type bridge', 'addr add 172.17.0.1/16 dev docker0', 'link set docker0 up'].join('\n'))
  await ns.run('iptables-legacy-restore', [], { input: DOCKER_RULES })
  await bridgeNfCallIptables(ns)
}

t.test("Docker's legacy FORWARD DROP: kvmnet accepts its bridge in legacy DOCKER-USER, guests get through, down restores iptables-legacy-save", async (t) => {
  const { host } = await hostWithOutside(t, P)
  await legacyDocker(host)
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const before = await iptablesSave(host, 'iptables-legacy-save')
  t.match(before, /:FORWARD DROP/)
  const warnings: unknown[] = []
  const net = createNetwork(validateSpec(natSpec(1)), { netns: host.name, stateRoot })
  net.on('warning', (w) => warnings.push(w))
  t.teardown(() => net.down().catch(() => undefined))
  const report = await net.up()
  t.ok(report.steps.some((s) => s.step === 'coexist' && s.outcome === 'created'), 'a coexist step added rules')
  t.same(warnings, [], 'no warning: Docker is handled')
  t.same(
    (await host.run('iptables-legacy', ['-S', 'DOCKER-USER'])).split('\n'),
    ['-N DOCKER-USER', '-A DOCKER-USER -i kvbr-khl1 -m comment --comment "kvmnet:khl1" -j ACCEPT', '-A DOCKER-USER -o kvbr-khl1 -m comment --comment "kvmnet:khl1" -j ACCEPT', '-A DOCKER-USER -j RETURN'],
    'two tagged accepts at the head of legacy DOCKER-USER',
  )
  const bridge = net.bridge ?? ''
  const guests = [await guestOn(t, host, bridge, 'khl1-v0', P), await guestOn(t, host, bridge, 'khl1-v1', P)]
  const ips = [(await dhcp(guests[0]!))?.ip, (await dhcp(guests[1]!))?.ip]
  t.ok(ips[0] && ips[1], 'both guests leased')
  t.ok(await ping(guests[0]!, '203.0.113.2'), 'guest 0 reaches the outside')
  t.ok(await ping(guests[0]!, ips[1]!), 'guest 0 reaches guest 1 (bridged frames cross legacy FORWARD)')

  const r = await doctor({ netns: host.name, stateRoot })
  t.notOk(r.findings.some((f) => f.severity === 'error'), `doctor: nothing unfixed (${JSON.stringify(r.findings)})`)

  await net.down()
  t.equal(await iptablesSave(host, 'iptables-legacy-save'), before, 'iptables-legacy-save after down is as before up')
  t.notMatch(await host.run('nft', ['list', 'ruleset']), /DOCKER-USER/, 'nothing was made in iptables-nft')
})
