/**
 * A bridge MTU changed behind kvmnet's back: DHCP still hands guests the spec's MTU (option 26), so the
 * bridge would drop their full-size frames. status names it; up puts the spec's MTU back.
 */
import t from 'tap'
import { createNetwork, validateSpec } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'
import { link } from '../helpers/ip.js'
import { assertNothingLeft } from '../helpers/leftovers.js'

t.test("a bridge MTU set by hand: status names it, up restores the spec's", async (t) => {
  const host = await makeNs(t, 'kmt')
  const spec = validateSpec({ name: 'mtud', mode: 'isolated', mtu: 1450, ipv4: { address: '10.218.0.1/24' }, ports: [{ name: 'mtud-p0' }] })
  const net = createNetwork(spec, { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  t.equal((await link(host, net.bridge!))?.mtu, 1450, 'the bridge has the spec MTU')
  await host.ip(`link set ${net.bridge} mtu 1300`)
  t.ok((await net.status()).problems.some((p) => p === `bridge ${net.bridge} has MTU 1300, the spec's is 1450`), 'status names the drift')
  const r = await net.up()
  t.equal(r.steps.find((s) => s.step === 'bridge-mtu')?.outcome, 'updated', 'up reports the repair')
  t.equal((await link(host, net.bridge!))?.mtu, 1450, 'the spec MTU is back')
  t.same((await net.status()).problems, [], 'status: up')
  const again = await net.up()
  t.notOk(again.steps.some((s) => s.step === 'bridge-mtu'), 'a bridge with the right MTU is left alone')
  await net.down()
  await assertNothingLeft(t, host, 'mtud')
})
