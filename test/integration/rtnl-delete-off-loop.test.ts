/**
 * A link group's delete is sent from a pool thread and settles once the kernel has unlisted the links (the
 * kernel acks a delete only after an RCU barrier it waits in inside the sender's sendmsg). Proven by order,
 * not by time: with every libuv pool thread held on a FIFO, the event loop still answers netlink requests
 * while the delete waits for a thread, and the links are still there; released, the delete completes.
 */
import { execa } from 'execa'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { NetlinkError } from '../../src/errors.js'
import { Rtnl } from '../../src/rtnl/index.js'
import { MAX_WATCHED_LINKS } from '../../src/rtnl/delete-unlisted.js'
import { createNetwork } from '../../src/index.js'
import { links } from '../helpers/ip.js'
import { rtnlInNewNs } from '../helpers/rtnl.js'
import { holdPool } from '../helpers/hold-pool.js'

const GROUP = 4242

async function bridgeWithTaps(rtnl: Rtnl, n: number): Promise<number[]> {
  const br = await rtnl.addLink({ kind: 'bridge', name: 'k10dbr', group: GROUP, alias: 'kvmnet:k10d', up: true })
  const idx = [br.index]
  for (let i = 0; i < n; i++) idx.push((await rtnl.addLink({ kind: 'tap', name: `k10dp${i}`, master: 'k10dbr', group: GROUP, up: true })).index)
  return idx
}

t.test('the delete waits for a pool thread while the event loop serves netlink', async (t) => {
  const { ns, rtnl } = await rtnlInNewNs(t, 'k10d')
  const members = await bridgeWithTaps(rtnl, 2)
  const pool = await holdPool(t)
  const settled: string[] = []
  const del = rtnl.deleteGroup(GROUP, { members }).then(() => settled.push('delete'))
  // Another socket of the same namespace: a round trip needs the event loop, not the pool.
  const other = Rtnl.open({ path: ns.path, name: ns.name })
  t.teardown(() => other.close())
  const seen = await other.getLink('k10dbr')
  t.equal(seen.index, members[0], 'the loop answered a request while the delete was pending, and the bridge was still there')
  t.same(settled, [], 'the delete had not settled')
  await pool.release()
  await del
  t.same(settled, ['delete'])
  t.same((await links(ns)).filter((l) => l.group === String(GROUP) || l.ifname.startsWith('k10d')), [], 'no link of the group is left')
  // The names are free at once: the same bridge and ports again.
  const again = await bridgeWithTaps(rtnl, 2)
  t.equal(again.length, 3)
  await rtnl.deleteGroup(GROUP, { members: again })
  t.equal(await rtnl.findLink('k10dbr'), undefined)
})

t.test('a group bigger than the links watched for: off the loop, settled at the ack', async (t) => {
  const { ns, rtnl } = await rtnlInNewNs(t, 'k10d')
  const members = await bridgeWithTaps(rtnl, MAX_WATCHED_LINKS + 6)
  t.ok(members.length > MAX_WATCHED_LINKS)
  const pool = await holdPool(t)
  let settled = false
  const del = rtnl.deleteGroup(GROUP, { members }).then(() => (settled = true))
  t.ok(await rtnl.findLink('k10dbr'), 'the loop answers while the delete waits for a pool thread; the bridge is still there')
  t.equal(settled, false)
  await pool.release()
  await del
  t.same((await links(ns)).filter((l) => l.ifname.startsWith('k10d')), [], 'every link of the group is gone')
})

t.test('a refused group delete rejects with the kernel errno and deletes nothing', async (t) => {
  const { ns, rtnl } = await rtnlInNewNs(t, 'k10d')
  const members = await bridgeWithTaps(rtnl, 1)
  // lo has no rtnl_link_ops: the kernel refuses the whole group (EOPNOTSUPP) before it deletes any link.
  await ns.run('ip', ['link', 'set', 'lo', 'group', String(GROUP)])
  const lo = await rtnl.getLink('lo')
  const err = await rtnl.deleteGroup(GROUP, { members: [...members, lo.index] }).catch((e: unknown) => e)
  t.type(err, NetlinkError)
  t.equal((err as NetlinkError).code, 'EOPNOTSUPP')
  t.ok(await rtnl.findLink('k10dbr'), 'the bridge is still there')
  t.ok(await rtnl.findLink('k10dp0'), 'its port is still there')
  const empty = await rtnl.deleteGroup(4243, { members: [] }).catch((e: unknown) => e)
  t.equal((empty as NetlinkError).code, 'ENODEV', 'an empty group: ENODEV as before')
})

t.test('down then up of the same spec at once, twice; nothing of the network is left', async (t) => {
  const { ns } = await rtnlInNewNs(t, 'k10d')
  const stateRoot = await mkdtemp(join(tmpdir(), 'kvmnet-k10d-'))
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }))
  const spec = {
    name: 'k10dn',
    mode: 'nat' as const,
    ipv4: { address: '10.252.7.1/24' },
    dns: { enabled: false },
    ports: [{ name: 'k10dp0' }, { name: 'k10dp1' }],
    forwards: [{ proto: 'tcp' as const, hostPort: 8080, guest: '10.252.7.2', guestPort: 80 }],
  }
  const netns = ns.name
  for (let i = 0; i < 2; i++) {
    const net = createNetwork(spec, { netns, stateRoot })
    await net.up()
    await net.down()
    t.same((await links(ns)).filter((l) => l.ifname !== 'lo'), [], `round ${i}: no link left in the namespace`)
  }
  const net = createNetwork(spec, { netns, stateRoot })
  await net.up()
  const addrs = await ns.run('ip', ['-4', '-o', 'addr', 'show'])
  t.match(addrs, /10\.252\.7\.1\/24/, 'the gateway address is back')
  await net.down()
  const second = await createNetwork(spec, { netns, stateRoot }).down()
  t.ok(second, 'a second down is fine')
  t.same((await links(ns)).filter((l) => l.ifname !== 'lo'), [])
})

t.test('SIGKILL during down (its delete queued behind a held pool, or sent), then down again: nothing is left', async (t) => {
  const { ns } = await rtnlInNewNs(t, 'k10d')
  const spec = {
    name: 'k10dk',
    mode: 'nat' as const,
    ipv4: { address: '10.252.8.1/24' },
    dns: { enabled: false },
    ports: [{ name: 'k10dq0' }],
    forwards: [{ proto: 'tcp' as const, hostPort: 8080, guest: '10.252.8.2', guestPort: 80 }],
  }
  const child = fileURLToPath(new URL('../fixtures/down-held/child.ts', import.meta.url))
  for (const hold of [true, false]) {
    const stateRoot = await mkdtemp(join(tmpdir(), 'kvmnet-k10d-'))
    const fifoDir = await mkdtemp(join(tmpdir(), 'kvmnet-k10d-'))
    t.teardown(() => Promise.all([rm(stateRoot, { recursive: true, force: true }), rm(fifoDir, { recursive: true, force: true })]))
    await createNetwork(spec, { netns: ns.name, stateRoot }).up()
    const p = execa('node', ['--import', 'tsx', child, JSON.stringify({ ns: ns.name, stateRoot, spec, hold, fifoDir })], { reject: false })
    await new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()))
    p.kill('SIGKILL')
    const r = await p
    t.equal(r.signal, 'SIGKILL', `hold ${hold}: killed`)
    await createNetwork(spec, { netns: ns.name, stateRoot }).down()
    t.same((await links(ns)).filter((l) => l.ifname !== 'lo'), [], `hold ${hold}: no link left`)
    t.equal((await ns.run('nft', ['list', 'tables'])).trim(), '', `hold ${hold}: no nft table left`)
    await createNetwork(spec, { netns: ns.name, stateRoot }).up()
    await createNetwork(spec, { netns: ns.name, stateRoot }).down()
  }
})
