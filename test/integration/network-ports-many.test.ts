/**
 * Network.ports() of a network with many ports reads them with one dump of the links rather than one
 * request per port (issue 21: `kvmnet up` of 1000 ports prints them all): the same facts as the kernel
 * gives per link, and a port whose link was deleted by hand is still an error, as it was.
 */
import t from 'tap'
import { createNetwork } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { link } from '../helpers/ip.js'

t.test('ports() of 12 ports: every port, with what the kernel says of its link', async (t) => {
  const ns = await makeNs(t, 'kp-ports')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const net = createNetwork(
    { name: 'kpmany', mode: 'isolated', ipv4: { address: '10.238.0.1/24' }, ports: Array.from({ length: 12 }, (_, i) => ({ name: `kpm${i}` })) },
    { netns: ns.name, stateRoot },
  )
  await net.up()
  let down = false
  // Taken down in the test; here only when an assertion on the way failed.
  t.teardown(() => (down ? undefined : net.down()))
  const ports = await net.ports()
  t.same(ports.map((p) => p.name), Array.from({ length: 12 }, (_, i) => `kpm${i}`), 'every port, in the spec\'s order')
  for (const p of ports) {
    const l = await link(ns, p.name)
    t.equal(p.index, l?.ifindex, `${p.name}: its ifindex`)
    t.equal(p.hostMac, l?.address, `${p.name}: the host side's MAC`)
  }
  await ns.ip('link del kpm5')
  await t.rejects(net.ports(), { code: 'ENODEV', object: 'kpm5' }, 'a port whose link is gone is the same error as with one request per port')
  await net.down()
  down = true
  await assertNothingLeft(t, ns, 'kpmany', stateRoot)
})

t.test('up of 80 ports: the port lookups go by one dump; ports deleted by hand come back tagged, a foreign name is refused', async (t) => {
  const ns = await makeNs(t, 'kvu-many')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const n = 80
  const spec = { name: 'kpdump', mode: 'isolated' as const, ipv4: { address: '10.238.1.1/24' }, ports: Array.from({ length: n }, (_, i) => ({ name: `kpd${i}` })) }
  const net = createNetwork(spec, { netns: ns.name, stateRoot })
  await net.up()
  let down = false
  t.teardown(() => (down ? undefined : net.down()))
  const check = async (what: string): Promise<void> => {
    const bridge = await link(ns, 'kvbr-kpdump')
    const ports = await net.ports()
    const wrong = []
    for (const p of ports) {
      const l = await link(ns, p.name)
      if (!l || !l.ifalias?.startsWith('kvmnet:kpdump:port@') || l.master !== bridge?.ifname || !l.flags.includes('UP') || l.address !== p.hostMac) wrong.push(p.name)
    }
    t.same(wrong, [], `${what}: every port tagged, on the bridge, up, with its host MAC`)
  }
  await check('first up')
  // More than the lookups answered one by one: the missing ones are found missing in one dump.
  await ns.ip(Array.from({ length: 40 }, (_, i) => `link del kpd${i * 2}`).join('\n'))
  await net.up()
  await check('up after 40 ports were deleted by hand')
  // A name of the spec taken by a link kvmnet did not make: refused, the network as it was.
  await ns.ip('link del kpd7\nlink add kpd7 type bridge')
  await t.rejects(net.up(), { name: 'SpecError', field: 'ports[7].name' }, 'a port name taken by an administrator\'s link is refused')
  t.equal((await link(ns, 'kpd7'))?.ifalias, undefined, 'the administrator\'s link is left alone')
  await ns.ip('link del kpd7')
  await net.up()
  await check('up after the name was freed')
  await net.down()
  down = true
  await assertNothingLeft(t, ns, 'kpdump', stateRoot)
})
