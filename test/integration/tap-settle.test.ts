/**
 * A persistent tap whose queue fds are closed has no carrier, but the kernel applies that to its
 * operational state only when its link-watch work runs (batched, up to a second later): until then the
 * tap reads operationally "unknown", and a bridge enables it as a port as if a guest were there — each
 * enabled port re-running the bridge's port-state selection over all of them (issue 21: raising a bridge
 * with 1000 such taps took ~80 ms of kernel time, and link-watch disabled them all again after `up` had
 * returned). closeTaps settles them: right after, a tap raised and a bridge raised over them leave every
 * port disabled, and a guest attaching to a tap still makes its port forward.
 *
 * The state is read with dumps only (`ip -j link show`, `bridge -j link show`): `ip link show dev NAME`
 * asks for the one link with RTM_GETLINK, which settles it as a side effect.
 */
import t from 'tap'
import { Rtnl } from '../../src/rtnl/index.js'
import { closeTaps, createTap, createTaps } from '../../src/tap/index.js'
import { createNetwork } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'

interface Dumped {
  operstate: Map<string, string>
  portState: Map<string, string>
}

async function dumped(ns: TestNs): Promise<Dumped> {
  const links = JSON.parse(await ns.run('ip', ['-j', 'link', 'show'])) as { ifname: string; operstate: string }[]
  const ports = JSON.parse((await ns.run('bridge', ['-j', 'link', 'show'])) || '[]') as { ifname: string; state: string }[]
  return { operstate: new Map(links.map((l) => [l.ifname, l.operstate])), portState: new Map(ports.map((p) => [p.ifname, p.state])) }
}

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

t.test('closeTaps: settled taps join a bridge, up, as disabled ports; a bridge raised over them enables none', async (t) => {
  const ns = await makeNs(t, 's11')
  const rtnl = Rtnl.open(ns)
  t.teardown(() => rtnl.close())
  const br = await rtnl.addLink({ kind: 'bridge', name: 's11br', stp: false, forwardDelay: 0 })
  await closeTaps(ns, [])
  const taps = names('s11t', 40)
  const handles = createTaps(ns, taps.map((name) => ({ name, persist: true, vnetHdr: true })))
  await closeTaps(ns, handles)
  t.same(handles.map((h) => h.fds.length), taps.map(() => 1), 'one queue each')
  // By index, in one round, as the ports step does: no RTM_GETLINK of a tap on the way (that would settle it).
  const byName = new Map((await rtnl.listLinks()).map((l) => [l.name, l.index]))
  await Promise.all(taps.map((name) => rtnl.setLink(byName.get(name)!, { master: br.index, up: true })))
  await rtnl.setLink(br.index, { up: true })
  const d = await dumped(ns)
  t.same(taps.filter((n) => d.operstate.get(n) !== 'DOWN'), [], 'every tap: operationally down (no carrier), not "unknown"')
  t.same(taps.filter((n) => d.portState.get(n) !== 'disabled'), [], 'every port disabled, none taken for up')
})

t.test('closeTaps: a tap deleted before it is settled is an error naming it', async (t) => {
  const ns = await makeNs(t, 's11')
  const [h] = createTaps(ns, [{ name: 's11gone', persist: true }])
  await ns.ip('link del s11gone')
  await t.rejects(closeTaps(ns, [h!]), { code: 'ENODEV' }, 'ENODEV, not silence')
})

t.test('Network.up of 70 ports (enslaved before the bridge is up): every port disabled; a guest attaching makes its port forward', async (t) => {
  const ns = await makeNs(t, 's11')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const ports = names('s11p', 70)
  const net = createNetwork({ name: 's11many', mode: 'very-isolated', bridge: 's11br-many', ports: ports.map((name) => ({ name })) }, { netns: ns.name, stateRoot })
  await net.up()
  t.teardown(() => net.down())
  const d = await dumped(ns)
  t.same(ports.filter((n) => d.portState.get(n) !== 'disabled'), [], 'every port disabled')
  // A guest (QEMU) opens the tap: carrier on, and the port forwards.
  const guest = createTap(ns, { name: 's11p7', vnetHdr: true })
  t.teardown(() => guest.close())
  let state: string | undefined
  for (let i = 0; i < 100 && state !== 'forwarding'; i++) {
    state = (await dumped(ns)).portState.get('s11p7')
    if (state !== 'forwarding') await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(state, 'forwarding', "the guest's port forwards")
})
