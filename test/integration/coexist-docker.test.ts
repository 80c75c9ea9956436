/**
 * Docker on the same host (reproduced with Docker's exact iptables layout, iptables-nft, and
 * bridge-nf-call-iptables=1 in the namespace): its FORWARD policy DROP drops every forwarded packet that
 * no rule of `ip filter` accepts, and a drop in any base chain is final — kvmnet's accepts in its own table
 * cannot help. With coexistence (the default) kvmnet accepts its bridge in DOCKER-USER, Docker's documented
 * place, tagged `kvmnet:NET`, and removes exactly those rules on down.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, doctor, gc, validateSpec, type Network } from '../../src/index.js'
import { dhcp, ping } from '../helpers/guest.js'
import { dockerLayout, guestOn, hostWithOutside, iptablesSave } from '../helpers/coexist.js'
import type { TestNs } from '../helpers/ns.js'

const P = 'kvco'
const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = (args: string[]) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, reject: false })

function natSpec(n: number, extra: Record<string, unknown> = {}) {
  return { name: `co${n}`, mode: 'nat', ipv4: { address: `10.231.${n}.1/24`, dhcp: { range: [`10.231.${n}.100`, `10.231.${n}.150`] } }, ...extra }
}

async function upIn(t: Test, host: TestNs, spec: unknown, opts: { dnsmasq?: 'supervised' | 'detached' } = {}): Promise<Network> {
  const net = createNetwork(validateSpec(spec), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}`, ...opts })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  return net
}

/** Two guests on the network's bridge, leased by udhcpc; their addresses (undefined where no lease came). */
async function twoGuests(t: Test, host: TestNs, net: Network, n: number): Promise<{ guests: TestNs[]; ips: (string | undefined)[] }> {
  const bridge = net.bridge ?? ''
  const guests = [await guestOn(t, host, bridge, `co${n}-v0`, P), await guestOn(t, host, bridge, `co${n}-v1`, P)]
  const ips = [(await dhcp(guests[0]!))?.ip, (await dhcp(guests[1]!))?.ip]
  return { guests, ips }
}

t.test("Docker's layout without coexistence: guests lease but reach neither the outside nor each other (the reproduction)", async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  const net = await upIn(t, host, natSpec(1, { firewall: { coexist: false } }))
  t.equal((await net.status()).up, true, 'status says up')
  const { guests, ips } = await twoGuests(t, host, net, 1)
  t.ok(ips[0] && ips[1], 'both guests leased (DHCP is input, which Docker leaves alone)')
  t.notOk(await ping(guests[0]!, '203.0.113.2'), 'guest 0 cannot reach the outside')
  t.notOk(await ping(guests[0]!, ips[1]!), 'guest 0 cannot reach guest 1 (bridged frames cross FORWARD under br_netfilter)')
  t.notOk(await host.try('iptables-nft', ['-S', 'DOCKER-USER']).then((r) => /kvmnet/.test(r.stdout)), 'nothing of kvmnet in DOCKER-USER')
  const r = await doctor({ netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  const docker = r.findings.find((f) => f.code === 'docker-forward-drop')
  t.equal(docker?.severity, 'error', 'doctor: Docker drops the network')
  t.match(docker?.fix, /iptables -I DOCKER-USER -i kvbr-co1 -j ACCEPT/, 'with the exact fix')
})

t.test("Docker's layout with coexistence (the default): guests reach the outside and each other; down restores iptables-save byte for byte", async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  const before = await iptablesSave(host)
  t.match(before, /:FORWARD DROP/)
  const warnings: unknown[] = []
  const net = createNetwork(validateSpec(natSpec(2)), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  net.on('warning', (w) => warnings.push(w))
  t.teardown(() => net.down().catch(() => undefined))
  const report = await net.up()
  t.ok(report.steps.some((s) => s.step === 'coexist' && s.outcome === 'created'), 'a coexist step added rules')
  t.same(warnings, [], 'no warning: Docker is handled')
  const rules = (await host.run('iptables-nft', ['-S', 'DOCKER-USER'])).split('\n')
  t.same(
    rules,
    ['-N DOCKER-USER', '-A DOCKER-USER -i kvbr-co2 -m comment --comment "kvmnet:co2" -j ACCEPT', '-A DOCKER-USER -o kvbr-co2 -m comment --comment "kvmnet:co2" -j ACCEPT', '-A DOCKER-USER -j RETURN'],
    'two accepts for the bridge, before Docker\'s RETURN, each tagged kvmnet:co2',
  )
  const { guests, ips } = await twoGuests(t, host, net, 2)
  t.ok(ips[0] && ips[1], 'both guests leased')
  t.ok(await ping(guests[0]!, '203.0.113.2'), 'guest 0 reaches the outside')
  t.ok(await ping(guests[1]!, '203.0.113.2'), 'guest 1 reaches the outside')
  t.ok(await ping(guests[0]!, ips[1]!), 'guest 0 reaches guest 1')
  t.ok(await ping(guests[1]!, ips[0]!), 'guest 1 reaches guest 0')

  const r = await doctor({ netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  const docker = r.findings.find((f) => f.code === 'docker-forward-drop')
  t.equal(docker?.severity, 'info', 'doctor: Docker is reported as fixed by kvmnet')
  t.match(docker?.problem, /fixed by kvmnet/)
  t.notOk(r.findings.some((f) => f.severity === 'error'), JSON.stringify(r.findings))
  t.equal((await cli(['doctor', '--netns', host.name, '--state-root', `/run/kvmnet-test/${host.name}`])).exitCode, 0, 'kvmnet doctor exits 0')

  await net.down()
  t.equal(await iptablesSave(host), before, 'iptables-save after down is byte-identical to before up')
})

t.test('a rule the administrator added to DOCKER-USER with the same shape is never removed; a re-up changes nothing', async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  await host.run('iptables-nft', ['-I', 'DOCKER-USER', '-i', 'kvbr-co3', '-j', 'ACCEPT'])
  const before = await iptablesSave(host)
  const net = await upIn(t, host, natSpec(3))
  const once = await iptablesSave(host)
  const again = await net.up()
  t.ok(again.steps.some((s) => s.step === 'coexist' && s.outcome === 'unchanged'), 'the same spec again: coexist unchanged')
  t.equal(await iptablesSave(host), once, 'and no duplicate rule')
  await net.down()
  t.equal(await iptablesSave(host), before, "the administrator's untagged rule is still there, kvmnet's are gone")
})

t.test('a network whose process died: gc removes its DOCKER-USER rules with the rest', async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  const before = await iptablesSave(host)
  const stateRoot = `/run/kvmnet-test/${host.name}`
  // A supervised network of another process that is killed: its state names a dead owner.
  const child = await execa('node', ['--import', 'tsx', '-e', `
    import { createNetwork } from ${JSON.stringify(join(root, 'src/index.ts'))}
    const net = createNetwork(${JSON.stringify(natSpec(4))}, { netns: ${JSON.stringify(host.name)}, stateRoot: ${JSON.stringify(stateRoot)}, dnsmasq: 'detached' })
    await net.up()
    const fs = await import('node:fs')
    const dir = net.stateDir
    const st = JSON.parse(fs.readFileSync(dir + '/network.json', 'utf8'))
    st.owner = { pid: process.pid, startTime: 'gone' }
    fs.writeFileSync(dir + '/network.json', JSON.stringify(st))
  `], { cwd: root, reject: false })
  t.equal(child.exitCode, 0, child.stderr)
  t.match(await host.run('iptables-nft', ['-S', 'DOCKER-USER']), /kvmnet:co4/)
  const r = await gc({ netns: host.name, stateRoot })
  t.same(r.networks, ['co4'], JSON.stringify(r))
  t.equal(await iptablesSave(host), before, 'iptables-save is as before the network')
})

t.test('Docker with ip6tables too (DOCKER-USER in ip6 filter): the bridge is accepted in both families, and both are restored', async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  await host.run('ip6tables-nft-restore', [], { input: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n' })
  const before = [await iptablesSave(host), await iptablesSave(host, 'ip6tables-nft-save')]
  const net = await upIn(t, host, natSpec(5, { ipv6: { address: 'fd00:231:5::1/64' } }))
  t.match(await host.run('ip6tables-nft', ['-S', 'DOCKER-USER']), /-A DOCKER-USER -i kvbr-co5 -m comment --comment "kvmnet:co5" -j ACCEPT/)
  t.match(await host.run('iptables-nft', ['-S', 'DOCKER-USER']), /-A DOCKER-USER -o kvbr-co5 -m comment --comment "kvmnet:co5" -j ACCEPT/)
  await net.down()
  t.same([await iptablesSave(host), await iptablesSave(host, 'ip6tables-nft-save')], before)
})

t.test("Docker's layout and a very-isolated network: bridged guest <-> guest frames pass (bridge-to-bridge accept only)", async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  const net = await upIn(t, host, { name: 'co6', mode: 'very-isolated' })
  t.same(
    (await host.run('iptables-nft', ['-S', 'DOCKER-USER'])).split('\n'),
    ['-N DOCKER-USER', '-A DOCKER-USER -i kvbr-co6 -o kvbr-co6 -m comment --comment "kvmnet:co6" -j ACCEPT', '-A DOCKER-USER -j RETURN'],
  )
  const g = [await guestOn(t, host, 'kvbr-co6', 'co6-v0', P), await guestOn(t, host, 'kvbr-co6', 'co6-v1', P)]
  await g[0]!.ip('addr add 10.231.6.11/24 dev eth0')
  await g[1]!.ip('addr add 10.231.6.12/24 dev eth0')
  t.ok(await ping(g[0]!, '10.231.6.12'), 'guest 0 reaches guest 1')
  await net.down()
  t.notMatch(await host.run('iptables-nft', ['-S', 'DOCKER-USER']), /kvmnet/)
})
