/** doctor's bridge findings from what the kernel says of a bridge (pure): STP delay, port limit, MTU. */
import t from 'tap'
import { bridgeHealth, PORTS_NEAR_LIMIT } from '../../src/doctor/bridge-health.js'
import type { LinkInfo } from '../../src/rtnl/index.js'

const link = (name: string, mtu: number, bridge?: LinkInfo['bridge']): LinkInfo =>
  ({ name, index: 7, mtu, up: true, kind: bridge ? 'bridge' : 'veth', flags: 0, group: 0, ...(bridge ? { bridge } : {}) }) as LinkInfo

t.test('a healthy bridge: nothing', async (t) => {
  t.same(bridgeHealth('n', link('kvbr-n', 1500, { stp: false, forwardDelay: 15, vlanFiltering: false }), 3, undefined, undefined), [])
  t.same(bridgeHealth('n', link('kvbr-n', 1400, { stp: false, forwardDelay: 15, vlanFiltering: false }), 3, 1400, link('eth0', 1400)), [], 'MTUs that agree')
})

t.test('STP with a forward delay: guests wait twice the delay', async (t) => {
  const [f] = bridgeHealth('n', link('kvbr-n', 1500, { stp: true, forwardDelay: 15, vlanFiltering: false }), 1, undefined, undefined)
  t.equal(f?.code, 'stp-forward-delay')
  t.match(f?.problem, /up to 30 s/)
  t.same(bridgeHealth('n', link('kvbr-n', 1500, { stp: true, forwardDelay: 0, vlanFiltering: false }), 1, undefined, undefined), [], 'no delay, no finding')
})

t.test('ports near the limit: a warning, at the limit an error', async (t) => {
  const br = link('kvbr-n', 1500, { stp: false, forwardDelay: 15, vlanFiltering: false })
  t.same(bridgeHealth('n', br, PORTS_NEAR_LIMIT - 1, undefined, undefined), [])
  t.equal(bridgeHealth('n', br, PORTS_NEAR_LIMIT, undefined, undefined)[0]?.severity, 'warning')
  t.equal(bridgeHealth('n', br, 1023, undefined, undefined)[0]?.severity, 'error')
})

t.test('MTU: DHCP hands out another than the bridge has; the NIC differs from its bridge', async (t) => {
  const br = link('kvbr-n', 1300, { stp: false, forwardDelay: 15, vlanFiltering: false })
  const [dhcp] = bridgeHealth('n', br, 1, 1400, undefined)
  t.equal(dhcp?.code, 'mtu-mismatch')
  t.match(dhcp?.problem, /large packets are dropped/)
  const [nic] = bridgeHealth('n', br, 1, undefined, link('eth0', 1500))
  t.match(nic?.object, /eth0 mtu 1500/)
})
