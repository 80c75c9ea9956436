/**
 * A vxlan decides the network's MTU (the underlay's less the encapsulation) when the spec sets none. A later
 * `up` without the vxlan gives the bridge, its ports and what DHCP tells guests their plain MTU back — the
 * MTU the same spec gets on a network made without a vxlan — instead of keeping the reduced one.
 */
import t from 'tap'
import { createNetwork, type NetworkSpecInput } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'

const mtuOf = async (run: (cmd: string, args: string[]) => Promise<string>, dev: string) => (JSON.parse(await run('ip', ['-j', 'link', 'show', dev])) as { mtu: number }[])[0]?.mtu

t.test('removing vxlan from the spec restores the bridge MTU, the ports and the DHCP option', async (t) => {
  const h = await makeNs(t, 'kh')
  // The underlay: a veth (this kernel has no dummy driver) with the host's address.
  await h.ip('link add eth0 type veth peer name eth1\naddr add 198.51.100.1/24 dev eth0\nlink set eth0 up\nlink set eth1 up')
  const stateRoot = `/run/kvmnet-test/${h.name}`
  const base: NetworkSpecInput = { name: 'khvx', mode: 'nat', ipv4: { address: '10.81.0.1/24', dhcp: { range: ['10.81.0.100', '10.81.0.150'] } }, ports: [{ name: 'khvx-p0' }] }
  const withVxlan = { ...base, vxlan: { vni: 81, local: '198.51.100.1', peers: ['198.51.100.2'] } }
  const net = createNetwork(withVxlan, { netns: h.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const run = (cmd: string, args: string[]) => h.run(cmd, args)
  t.equal(await mtuOf(run, 'kvbr-khvx'), 1450, 'with the vxlan: 1500 - 50')
  t.equal(await mtuOf(run, 'khvx-p0'), 1450, 'and the port')

  const r = await net.up(base)
  t.ok(r.steps.some((s) => s.step === 'vxlan-remove'), 'the vxlan went')
  t.equal(await mtuOf(run, 'kvbr-khvx'), 1500, 'the bridge is back to 1500')
  t.equal(await mtuOf(run, 'khvx-p0'), 1500, 'and so is the port')
  const conf = await h.run('cat', [`${net.stateDir}/dnsmasq/dnsmasq.conf`])
  t.notMatch(conf, /option:mtu/, 'DHCP no longer tells guests 1450')
  t.same((await net.status()).problems, [], 'status: up, no difference')
})
