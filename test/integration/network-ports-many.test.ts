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
