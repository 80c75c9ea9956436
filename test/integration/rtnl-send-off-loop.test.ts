/**
 * An Rtnl handle opened with `sendOffLoop` sends every datagram from a libuv pool thread, in order, and
 * reads the answers on the event loop. Proven by order, not by time: with every pool thread held on a FIFO,
 * a request of such a handle is not carried out (its link is not made) while another handle's request is
 * answered; released, it is. Requests queued at once keep their order (an address, then the route through
 * it; a run of addresses over several datagrams), a refusal rejects with the kernel's errno, a dump works,
 * and closing the handle with sends still queued rejects them without sending.
 */
import t from 'tap'
import { KvmnetError, NetlinkError } from '../../src/errors.js'
import { Rtnl } from '../../src/rtnl/index.js'
import { addresses } from '../helpers/ip.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { holdPool } from '../helpers/hold-pool.js'

async function offLoopIn(t: { teardown(fn: () => unknown): void }): Promise<{ ns: TestNs; rtnl: Rtnl; plain: Rtnl }> {
  const ns = await makeNs(t, 'c11s')
  const rtnl = Rtnl.open({ path: ns.path, name: ns.name }, { sendOffLoop: true })
  const plain = Rtnl.open({ path: ns.path, name: ns.name })
  t.teardown(() => {
    rtnl.close()
    plain.close()
  })
  return { ns, rtnl, plain }
}

t.test('a request waits for a pool thread while another handle is answered on the loop', async (t) => {
  const { rtnl, plain } = await offLoopIn(t)
  const pool = await holdPool(t)
  let settled = false
  const made = rtnl.addLink({ kind: 'bridge', name: 'c11sbr', up: true }).then((l) => {
    settled = true
    return l
  })
  t.ok(await plain.getLink('lo'), 'the loop answers another handle')
  t.equal(await plain.findLink('c11sbr'), undefined, 'the bridge is not made yet')
  t.equal(settled, false)
  await pool.release()
  const br = await made
  t.equal((await plain.getLink('c11sbr')).index, br.index, 'made once a pool thread sent it')
})

t.test('requests queued at once keep their order; a refusal carries its errno; dumps work', async (t) => {
  const { ns, rtnl } = await offLoopIn(t)
  await rtnl.addLink({ kind: 'bridge', name: 'c11sbr', up: true })
  // Not awaited one by one: the route needs the address before it, in the same or an earlier datagram.
  const addr = rtnl.addAddress('c11sbr', '198.51.100.1/24')
  const route = rtnl.addRoute({ dst: '203.0.113.0/24', gateway: '198.51.100.2', dev: 'c11sbr' })
  await Promise.all([addr, route])
  // More than the in-flight window (MAX_IN_FLIGHT): several datagrams, the later sent as acks come.
  const many = Array.from({ length: 1100 }, (_, i) => rtnl.addAddress('c11sbr', `10.${Math.floor(i / 250)}.${i % 250}.1/32`))
  await Promise.all(many)
  t.equal((await addresses(ns, 'c11sbr')).filter((a) => !a.includes(':')).length, 1101, 'every address of the run is there')
  const routes = await rtnl.listRoutes({ family: 4 })
  t.ok(routes.some((r) => r.dst === '203.0.113.0/24'), 'a dump answered off the loop lists the route')
  const again = await rtnl.addAddress('c11sbr', '198.51.100.1/24').catch((e: unknown) => e)
  t.type(again, NetlinkError)
  t.equal((again as NetlinkError).code, 'EEXIST', 'the refusal is the kernel errno')
  const lo = await rtnl.deleteLink('c11s-none').catch((e: unknown) => e)
  t.equal((lo as NetlinkError).code, 'ENODEV')
})

t.test('closing the handle rejects what is in flight; a datagram still waiting for the one before it is never sent', async (t) => {
  const { rtnl, plain } = await offLoopIn(t)
  const pool = await holdPool(t)
  const tick = () => new Promise((r) => setImmediate(r))
  // The first datagram is handed to the (held) pool; the second waits for it to return.
  const first = rtnl.addLink({ kind: 'bridge', name: 'c11sbr2' }).catch((e: unknown) => e)
  await tick()
  const second = rtnl.addLink({ kind: 'bridge', name: 'c11sbr3' }).catch((e: unknown) => e)
  await tick()
  rtnl.close()
  t.type(await first, KvmnetError, 'the first is rejected by the close')
  t.type(await second, KvmnetError, 'so is the second')
  await pool.release()
  // The first was already a pool job: the kernel gets it. Known once the kernel lists it.
  for (let i = 0; i < 100 && !(await plain.findLink('c11sbr2')); i++) await new Promise((r) => setTimeout(r, 10))
  t.ok(await plain.findLink('c11sbr2'), 'the datagram a pool thread had taken was sent')
  t.equal(await plain.findLink('c11sbr3'), undefined, 'the one queued behind it was not')
})
