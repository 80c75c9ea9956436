/**
 * kvmnet doctor against real reproductions in a namespace: another table's forward chain with a drop
 * policy, Docker's iptables layout, a process holding the network's DHCP port, forwarding turned off, an
 * uplink that would lose its RA route — each named with the object responsible; a clean namespace exits 0.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, doctor, validateSpec } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = (args: string[]) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, reject: false })

async function natNet(t: Test, host: TestNs, n: number, dnsmasq: 'supervised' | 'detached' = 'supervised') {
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(validateSpec({ name: `doc${n}`, mode: 'nat', ipv4: { address: `10.223.${n}.1/24`, dhcp: { range: [`10.223.${n}.100`, `10.223.${n}.150`] } } }), { netns: host.name, stateRoot, dnsmasq })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  return { net, stateRoot }
}

t.test('a clean namespace: no findings, exit 0', async (t) => {
  const host = await makeNs(t, 'kvd')
  const { stateRoot } = await natNet(t, host, 1)
  const r = await doctor({ netns: host.name, stateRoot })
  t.same(r.findings, [])
  t.equal((await cli(['doctor', '--netns', host.name, '--state-root', stateRoot])).exitCode, 0)
})

t.test("a foreign 'inet filter' table with policy drop on forward is named, exit 1", async (t) => {
  const host = await makeNs(t, 'kvd')
  const { stateRoot } = await natNet(t, host, 2)
  await host.run('nft', ['add table inet filter; add chain inet filter forward { type filter hook forward priority 0; policy drop; }'])
  const r = await doctor({ netns: host.name, stateRoot })
  t.ok(r.findings.some((f) => f.code === 'nft-foreign-drop' && /inet filter forward/.test(f.object)), JSON.stringify(r.findings))
  const c = await cli(['doctor', 'doc2', '--netns', host.name, '--state-root', stateRoot])
  t.equal(c.exitCode, 1)
  t.match(c.stdout, /nft-foreign-drop.*inet filter forward/)
})

t.test("Docker's iptables layout (FORWARD policy DROP, DOCKER-USER) is recognised", async (t) => {
  const host = await makeNs(t, 'kvd')
  const { stateRoot } = await natNet(t, host, 3)
  for (const args of [['-N', 'DOCKER-USER'], ['-N', 'DOCKER-ISOLATION-STAGE-1'], ['-N', 'DOCKER-ISOLATION-STAGE-2'], ['-P', 'FORWARD', 'DROP'], ['-A', 'FORWARD', '-j', 'DOCKER-USER'], ['-t', 'nat', '-N', 'DOCKER']])
    await host.run('iptables', args)
  const r = await doctor({ netns: host.name, stateRoot })
  t.ok(r.findings.some((f) => f.code === 'docker-forward-drop' && /ip filter FORWARD/.test(f.object)), JSON.stringify(r.findings.map((f) => f.code)))
})

t.test('a process holding UDP 67 on the bridge address is named by pid; forwarding off is named', async (t) => {
  const host = await makeNs(t, 'kvd')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  // A network whose dnsmasq died (detached: nobody restarts it) while something else took its DHCP port.
  const { net } = await natNet(t, host, 4, 'detached')
  const st = await net.status()
  process.kill(st.dnsmasq!.pid!, 'SIGKILL')
  net.close()
  await waitFor(async () => !(await host.run('ss', ['-Hlnu', 'sport = :67'])).trim() || undefined, 5000)
  const squatter = host.spawn('socat', ['UDP4-RECV:67,bind=10.223.4.1,reuseaddr', '-'])
  await waitFor(async () => (await host.run('ss', ['-Hlnu', 'sport = :67'])).trim() !== '' || undefined, 5000)
  await host.run('sysctl', ['-qw', 'net.ipv4.ip_forward=0'])
  const r = await doctor({ netns: host.name, stateRoot })
  const port = r.findings.find((f) => f.code === 'port-in-use')
  t.ok(port, JSON.stringify(r.findings))
  t.match(port?.object, new RegExp(`socat \\(pid ${squatter.pid}\\) on udp 10\\.223\\.4\\.1:67`), 'the holder is named by pid')
  t.ok(r.findings.some((f) => f.code === 'ip-forward-off'))
})

t.test("a dnsmasq bound to another device (a second kvmnet network's, libvirt's) is no conflict; exit 0", async (t) => {
  const host = await makeNs(t, 'kid')
  // Two kvmnet networks in one namespace: each dnsmasq holds 0.0.0.0%<its bridge>:67.
  const { stateRoot } = await natNet(t, host, 5, 'detached')
  await natNet(t, host, 6, 'detached')
  // libvirt's way: bind-dynamic on its own bridge, here with DNS on its address too.
  await host.ip('link add kid-virbr type bridge\naddr add 192.0.2.1/24 dev kid-virbr\nlink set kid-virbr up')
  const libvirt = host.spawn('dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--bind-dynamic', '--interface=kid-virbr', '--except-interface=lo', '--dhcp-range=192.0.2.10,192.0.2.20', '--dhcp-leasefile=/dev/null'])
  await waitFor(async () => (await host.run('ss', ['-Hlnup'])).includes('%kid-virbr:67') || undefined, 5000)
  const udp = await host.run('ss', ['-Hlnup'])
  for (const br of ['kvbr-doc5', 'kvbr-doc6']) t.ok(udp.includes(`0.0.0.0%${br}:67`), `${br}'s DHCP socket is bound to the bridge (what this test is about)`)
  const r = await doctor({ netns: host.name, stateRoot })
  t.same(r.findings.filter((f) => f.code === 'port-in-use'), [], `no port-in-use: ${JSON.stringify(r.findings)}`)
  const c = await cli(['doctor', '--netns', host.name, '--state-root', stateRoot])
  t.equal(c.exitCode, 0, c.stdout)
  // The same process bound to no device, or to this network's bridge, does take the port.
  libvirt.kill('SIGTERM')
  await libvirt
  const squatter = host.spawn('socat', ['UDP4-RECV:67,bind=0.0.0.0,reuseaddr,so-bindtodevice=kvbr-doc5', '-'])
  await waitFor(async () => (await host.run('ss', ['-Hlnup'])).includes(`pid=${squatter.pid}`) || undefined, 5000)
  const held = await doctor({ netns: host.name, stateRoot })
  const found = held.findings.filter((f) => f.code === 'port-in-use')
  t.equal(found.length, 1, JSON.stringify(found))
  t.match(found[0], { network: 'doc5', object: new RegExp(`socat \\(pid ${squatter.pid}\\) on udp 0\\.0\\.0\\.0%kvbr-doc5:67`) }, 'a socket on the network\'s own bridge is named, with its device')
})

t.test("an IPv6-only network: a process holding DNS on its IPv6 address is named; the network's own dnsmasq is not", async (t) => {
  const host = await makeNs(t, 'kvd')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(validateSpec({ name: 'doc6', mode: 'routed', ipv6: { address: 'fd00:223:6::1/64' } }), { netns: host.name, stateRoot, dnsmasq: 'detached' })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  await waitFor(async () => (await host.run('ss', ['-Hlnu', 'sport = :53'])).includes('fd00:223:6::1') || undefined, 5000)
  t.same((await doctor({ netns: host.name, stateRoot })).findings.filter((f) => f.code === 'port-in-use'), [], 'its own dnsmasq is no conflict')
  const st = await net.status()
  process.kill(st.dnsmasq!.pid!, 'SIGKILL')
  net.close()
  await waitFor(async () => !(await host.run('ss', ['-Hlnu', 'sport = :53'])).includes('fd00:223:6::1') || undefined, 5000)
  const squatter = host.spawn('socat', ['UDP6-RECV:53,bind=[fd00:223:6::1],reuseaddr', '-'])
  await waitFor(async () => (await host.run('ss', ['-Hlnup'])).includes(`pid=${squatter.pid}`) || undefined, 5000)
  const r = await doctor({ netns: host.name, stateRoot })
  const port = r.findings.find((f) => f.code === 'port-in-use')
  t.ok(port, JSON.stringify(r.findings))
  t.match(port?.object, new RegExp(`socat \\(pid ${squatter.pid}\\) on udp fd00:223:6::1:53`), 'the holder of the IPv6 DNS port is named by pid')
  t.match(port?.problem, /fd00:223:6::1/, 'the problem names the IPv6 address')
})
