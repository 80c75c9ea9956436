/**
 * Several guests on one network, each with the MAC its port reports (what a VM manager gives QEMU). The
 * port's MAC is the guest's: the tap's own MAC must differ, or the bridge treats the guest's frames as its
 * own ("received packet with own address as source address") and guests cannot reach each other.
 */
import t, { type Test } from 'tap'
import { createNetwork, validateSpec, tapHostMac, type Network } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { dhcp, guestOnBridge, ping } from '../helpers/guest.js'

async function upIn(t: Test, host: TestNs, spec: unknown): Promise<Network> {
  const net = createNetwork(validateSpec(spec), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  return net
}

type LinkJson = { ifname: string; address: string }

async function linkMac(ns: TestNs, name: string): Promise<string> {
  return (JSON.parse(await ns.run('ip', ['-j', 'link', 'show', 'dev', name])) as LinkJson[])[0]?.address ?? ''
}

for (const mode of ['nat', 'isolated', 'very-isolated'] as const) {
  t.test(`${mode}: two guests with their ports' MACs reach each other`, async (t) => {
    const host = await makeNs(t, 'kvg')
    const n = mode === 'nat' ? 1 : mode === 'isolated' ? 2 : 3
    const addressed = mode !== 'very-isolated'
    const net = await upIn(t, host, {
      name: `tg${n}`,
      mode,
      ...(addressed ? { ipv4: { address: `10.212.${n}.1/24`, dhcp: { range: [`10.212.${n}.100`, `10.212.${n}.150`] } } } : {}),
      ports: [{ name: `tg${n}-p0` }, { name: `tg${n}-p1`, mac: '52:54:00:12:00:01' }],
    })
    const ports = await net.ports()
    t.equal(ports[1]?.mac, '52:54:00:12:00:01', 'the port reports the guest MAC from the spec')
    const bridgeMacBefore = await linkMac(host, net.bridge!)
    for (const p of ports) {
      t.equal(await linkMac(host, p.name), tapHostMac(p.mac), `${p.name}: the tap's own MAC is fe + the guest's last five bytes`)
      t.not(p.hostMac, p.mac)
    }
    // Guests with exactly the MACs the ports report, on the same bridge.
    const g = [
      await guestOnBridge(t, host, net.bridge!, `tg${n}-v0`, ports[0]?.mac),
      await guestOnBridge(t, host, net.bridge!, `tg${n}-v1`, ports[1]?.mac),
    ]
    let ips: string[]
    if (addressed) {
      const leases = [await dhcp(g[0]!), await dhcp(g[1]!)]
      t.ok(leases[0] && leases[1], 'both guests leased')
      ips = leases.map((l) => l?.ip ?? '')
    } else {
      ips = [`10.212.${n}.11`, `10.212.${n}.12`]
      await g[0]!.ip(`addr add ${ips[0]}/24 dev eth0`)
      await g[1]!.ip(`addr add ${ips[1]}/24 dev eth0`)
    }
    t.ok(await ping(g[0]!, ips[1]!), 'guest 0 -> guest 1')
    t.ok(await ping(g[1]!, ips[0]!), 'guest 1 -> guest 0')
    t.equal(await linkMac(host, net.bridge!), bridgeMacBefore, 'the bridge MAC did not change as ports and guests came')
    await net.addPort({ name: `tg${n}-p2` })
    await net.removePort(`tg${n}-p0`)
    t.equal(await linkMac(host, net.bridge!), bridgeMacBefore, 'nor as ports were added and removed')
    await net.down()
  })
}
