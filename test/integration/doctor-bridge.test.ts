/**
 * doctor and the network's own bridge, changed behind kvmnet's back as an administrator might: STP turned
 * on with a forward delay, the bridge's MTU changed so that DHCP hands guests another.
 */
import t from 'tap'
import { createNetwork, doctor } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'

t.test('STP with a forward delay and an MTU DHCP does not match are named; a healthy bridge is not', async (t) => {
  const host = await makeNs(t, 'kvdb')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(
    { name: 'dbr', mode: 'nat', mtu: 1400, ipv4: { address: '10.236.1.1/24', dhcp: { range: ['10.236.1.100', '10.236.1.150'] } }, ports: [{ name: 'dbr-p0' }] },
    { netns: host.name, stateRoot },
  )
  t.teardown(() => net.down())
  await net.up()
  const bridgeFindings = async () =>
    (await doctor({ netns: host.name, stateRoot, network: 'dbr' })).findings.filter((f) => ['stp-forward-delay', 'bridge-port-limit', 'mtu-mismatch'].includes(f.code))
  t.same(await bridgeFindings(), [], 'as kvmnet made it: nothing')

  await host.ip('link set kvbr-dbr type bridge stp_state 1 forward_delay 400')
  const stp = await bridgeFindings()
  t.same(stp.map((f) => f.code), ['stp-forward-delay'])
  t.match(stp[0]?.problem, /up to 8 s/)
  await host.ip('link set kvbr-dbr type bridge stp_state 0')

  await host.ip('link set kvbr-dbr mtu 1300')
  const mtu = await bridgeFindings()
  t.same(mtu.map((f) => f.code), ['mtu-mismatch'])
  t.match(mtu[0]?.object, /mtu 1300, DHCP option 26 1400/)
  await host.ip('link set kvbr-dbr mtu 1400')
  t.same(await bridgeFindings(), [], 'the MTU back: nothing')
})
