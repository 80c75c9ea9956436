/** Bandwidth specs: bad input refused naming the field, before anything is touched; the tc objects a plan asks for. */
import t from 'tap'
import { SpecError, validateSpec } from '../../src/index.js'
import { planFor } from '../../src/network/kinds/index.js'
import { shapingOf, shapedTaps, QOS_HANDLE } from '../../src/network/kinds/bandwidth.js'

const base = { name: 'kqv', mode: 'nat', ipv4: { address: '192.0.2.1/24' } }

function refused(spec: unknown): string {
  try {
    validateSpec(spec)
  } catch (err) {
    if (err instanceof SpecError) return err.field
    throw err
  }
  return '(accepted)'
}

t.test('bad input names the field', async (t) => {
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { average: 0 } } }] }), 'ports[0].bandwidth.inbound.average')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { outbound: { average: -5 } } }] }), 'ports[0].bandwidth.outbound.average')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { burst: 64 } } }] }), 'ports[0].bandwidth.inbound')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { outbound: { burst: 64 } } }] }), 'ports[0].bandwidth.outbound.average')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { floor: 100 } } }] }), 'ports[0].bandwidth.inbound.floor')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { average: 100, peak: 50 } } }] }), 'ports[0].bandwidth.inbound.peak')
  t.equal(
    refused({ ...base, bandwidth: { inbound: { average: 100 } }, ports: [{ name: 'p0', bandwidth: { inbound: { floor: 60 } } }, { name: 'p1', bandwidth: { inbound: { floor: 60 } } }] }),
    'ports[1].bandwidth.inbound.floor',
  )
  t.equal(refused({ name: 'kqm', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'm0', bandwidth: { outbound: { average: 100 } } }] }), 'ports[0].bandwidth')
  t.equal(refused({ name: 'kqb', mode: 'bridge', interface: 'eth0', bandwidth: { inbound: { average: 100 } } }), 'bandwidth')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { average: 100, peak: 200, burst: 64 }, outbound: { average: 50 } } }] }), '(accepted)')
  // Zero and negative rates everywhere, the network's too.
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { average: 100, peak: 0 } } }] }), 'ports[0].bandwidth.inbound.peak')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { outbound: { average: 100, burst: -1 } } }] }), 'ports[0].bandwidth.outbound.burst')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { floor: 0 } } }] }), 'ports[0].bandwidth.inbound.floor')
  t.equal(refused({ ...base, bandwidth: { inbound: { average: 0 } } }), 'bandwidth.inbound.average')
  t.equal(refused({ ...base, bandwidth: { outbound: { average: -1 } } }), 'bandwidth.outbound.average')
  t.equal(refused({ ...base, bandwidth: { outbound: { burst: 64 } } }), 'bandwidth.outbound.average')
  t.equal(refused({ ...base, bandwidth: { outbound: { average: 100, peak: 50 } } }), 'bandwidth.outbound.peak')
  t.equal(refused({ ...base, ports: [{ name: 'p0', bandwidth: { inbound: { average: 1.5 } } }] }), 'ports[0].bandwidth.inbound.average')
  // A floor is a share of the inbound cap: an outbound cap alone does not give it one.
  t.equal(refused({ ...base, bandwidth: { outbound: { average: 100 } }, ports: [{ name: 'p0', bandwidth: { inbound: { floor: 10 } } }] }), 'ports[0].bandwidth.inbound.floor')
  t.equal(refused({ name: 'kqv', mode: 'very-isolated', bandwidth: { outbound: { average: 100 } } }), 'bandwidth')
})

t.test("the network's outbound cap: every tap redirected to one IFB, a class per limited guest by source MAC", async (t) => {
  const plan = planFor(
    validateSpec({
      ...base,
      bandwidth: { outbound: { average: 1000, peak: 1500 } },
      ports: [{ name: 'p0', mac: '52:54:00:00:00:01', bandwidth: { outbound: { average: 100, peak: 2000 } } }, { name: 'p1' }],
    }),
  )
  const s = shapingOf(plan)
  t.equal(s.ifbs.length, 1, "one IFB, the network's (no port IFB)")
  const ifb = s.ifbs[0]!
  t.same(s.devices.filter((d) => d.redirectTo !== undefined).map((d) => [d.dev, d.redirectTo]), [['p0', ifb], ['p1', ifb]])
  const root = s.devices.find((d) => d.dev === ifb)?.root
  t.equal(root?.defaultClass, 2)
  t.same(root?.filters, [{ prio: 2, match: { srcMac: '52:54:00:00:00:01' }, flowid: QOS_HANDLE | 0x100 }])
  t.same(root?.classes.find((c) => c.classid === (QOS_HANDLE | 0x100)), { classid: QOS_HANDLE | 0x100, parent: QOS_HANDLE | 1, rate: 100 * 1024, ceil: 1500 * 1024, burst: undefined, cburst: undefined }, "a guest's peak above the network's is the network's")
  t.equal(root?.classes.find((c) => c.classid === (QOS_HANDLE | 2))?.rate, 900 * 1024, 'the others share what the limited guests leave')
})

t.test('the plan asks for a tap HTB, an IFB with its redirect, and the bridge classes of the floors', async (t) => {
  const plan = planFor(
    validateSpec({
      ...base,
      bandwidth: { inbound: { average: 1000 } },
      ports: [{ name: 'p0', mac: '52:54:00:00:00:01', bandwidth: { inbound: { average: 100, peak: 200, burst: 64, floor: 300 }, outbound: { average: 50 } } }, { name: 'p1' }],
    }),
  )
  const s = shapingOf(plan)
  t.equal(s.ifbs.length, 1)
  const p0 = s.devices.find((d) => d.dev === 'p0')
  t.same(p0?.root?.classes, [{ classid: QOS_HANDLE | 1, parent: QOS_HANDLE, rate: 102400, ceil: 204800, burst: 65536, cburst: 65536 }])
  t.equal(p0?.redirectTo, s.ifbs[0])
  t.same(s.devices.find((d) => d.dev === s.ifbs[0])?.root?.classes[0]?.rate, 51200)
  t.same(s.devices.find((d) => d.dev === 'p1'), { dev: 'p1', root: undefined, redirectTo: undefined })
  const br = s.devices.find((d) => 'bridge' in plan && d.dev === plan.bridge)
  t.equal(br?.root?.defaultClass, 2)
  t.same(br?.root?.filters, [{ prio: 2, match: { dstMac: '52:54:00:00:00:01' }, flowid: QOS_HANDLE | 0x100 }])
  t.equal(br?.root?.classes.find((c) => c.classid === (QOS_HANDLE | 2))?.rate, 700 * 1024)
})

t.test('the taps left down for their qdiscs: those with a root HTB or a redirect, not the others', async (t) => {
  const ports = [{ name: 'p0', bandwidth: { inbound: { average: 100 } } }, { name: 'p1', bandwidth: { outbound: { average: 50 } } }, { name: 'p2' }, { name: 'p3', bandwidth: { inbound: { floor: 10 } } }]
  t.same([...shapedTaps(planFor(validateSpec({ ...base, bandwidth: { inbound: { average: 1000 } }, ports })))].sort(), ['p0', 'p1'], 'a floor alone shapes only the bridge')
  // The network's outbound cap redirects every tap to its IFB.
  t.same([...shapedTaps(planFor(validateSpec({ ...base, bandwidth: { outbound: { average: 1000 } }, ports: [{ name: 'p0' }, { name: 'p1' }] })))].sort(), ['p0', 'p1'])
  t.same([...shapedTaps(planFor(validateSpec({ ...base, ports: [{ name: 'p0' }] })))], [], 'no limits: none')
})
