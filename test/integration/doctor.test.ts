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
