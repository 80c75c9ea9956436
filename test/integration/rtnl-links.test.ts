/**
 * Links through Rtnl on a real kernel, each test in its own throwaway namespace; results are checked
 * with iproute2 so the test does not only trust kvmnet's own decoding.
 */
import { openSync, closeSync, existsSync } from 'node:fs'
import t, { type Test } from 'tap'
import { NetlinkError, SpecError, isExists, isNotFound } from '../../src/errors.js'
import { Rtnl } from '../../src/rtnl/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { link, links } from '../helpers/ip.js'
import { rtnlInNewNs } from '../helpers/rtnl.js'

/** One link as iproute2 has it (the test made it, so it is there). */
const ipLink = async (ns: TestNs, dev: string) => (await link(ns, dev))!
const ipLinks = links
const setup = (t: Test) => rtnlInNewNs(t, 'kvb')

t.test('bridge: create, read back, ensure twice is a no-op', async (t) => {
  const { ns, rtnl } = await setup(t)
  const br = await rtnl.addLink({ kind: 'bridge', name: 'kvbr0', stp: false, forwardDelay: 0, mtu: 1400, mac: '02:11:22:33:44:55', group: 9, alias: 'kvmnet:test', up: true })
  t.match(br, { name: 'kvbr0', kind: 'bridge', mtu: 1400, mac: '02:11:22:33:44:55', group: 9, alias: 'kvmnet:test', up: true, bridge: { stp: false, forwardDelay: 0 } })
  const ip = await ipLink(ns, 'kvbr0')
  t.equal(ip.linkinfo?.info_kind, 'bridge')
  t.equal(ip.ifalias, 'kvmnet:test')
  t.equal(ip.mtu, 1400)
  t.ok(ip.flags.includes('UP'))
  t.equal(ip.linkinfo?.info_data?.['forward_delay'], 0)

  const again = await rtnl.ensureLink({ kind: 'bridge', name: 'kvbr0', mtu: 1400, group: 9, alias: 'kvmnet:test', up: true })
  t.equal(again.created, false)
  t.equal(again.link.index, br.index)
  const third = await rtnl.ensureLink({ kind: 'bridge', name: 'kvbr0', mtu: 1400, group: 9, alias: 'kvmnet:test', up: true })
  t.same(third, again, 'ensure twice: same answer, nothing changed')
  const fresh = await rtnl.ensureLink({ kind: 'bridge', name: 'kvbr1', stp: true, forwardDelay: 4 })
  t.equal(fresh.created, true)
  t.match(fresh.link.bridge, { stp: true, forwardDelay: 4 })

  const wrongKind = await rtnl.ensureLink({ kind: 'veth', name: 'kvbr0', peer: { name: 'kvp0' } }).catch((e: unknown) => e)
  t.type(wrongKind, SpecError, 'an existing link of another kind is refused')
  t.equal((wrongKind as SpecError).field, 'kind')
  const dup = await rtnl.addLink({ kind: 'bridge', name: 'kvbr0' }).catch((e: unknown) => e)
  t.type(dup, NetlinkError)
  t.ok(isExists(dup), 'addLink of an existing name: EEXIST')
})

t.test('getLink / findLink / deleteLink, absent links', async (t) => {
  const { rtnl } = await setup(t)
  const lo = await rtnl.getLink('lo')
  t.equal(lo.index, 1)
  t.equal((await rtnl.getLink(1)).name, 'lo')
  t.equal(await rtnl.findLink('nothere'), undefined)
  const err = await rtnl.getLink('nothere').catch((e: unknown) => e)
  t.type(err, NetlinkError)
  t.equal((err as NetlinkError).code, 'ENODEV')
  t.equal((err as NetlinkError).op, 'RTM_GETLINK')
  const del = await rtnl.deleteLink('nothere').catch((e: unknown) => e)
  t.type(del, NetlinkError)
  t.equal((del as NetlinkError).code, 'ENODEV')
  t.equal((del as NetlinkError).op, 'RTM_DELLINK')
  t.equal((del as NetlinkError).object, 'nothere')
  t.ok(isNotFound(del))
  const del2 = await rtnl.deleteLink(4242).catch((e: unknown) => e)
  t.ok(isNotFound(del2), 'by index too')
})

t.test('veth pair, master, setLink (mtu, mac, alias, group, rename, nomaster, down)', async (t) => {
  const { ns, rtnl } = await setup(t)
  const br = await rtnl.addLink({ kind: 'bridge', name: 'kvbr0', up: true })
  const v0 = await rtnl.addLink({ kind: 'veth', name: 'kvv0', peer: { name: 'kvv1', mac: '02:00:00:00:00:b1' }, master: 'kvbr0', up: true })
  t.equal(v0.master, br.index)
  t.equal(v0.slaveKind, 'bridge')
  const v1 = await rtnl.getLink('kvv1')
  t.equal(v1.mac, '02:00:00:00:00:b1')
  t.equal(v0.parent, v1.index, 'IFLA_LINK of a veth is its peer')
  t.same((await rtnl.listLinks({ master: 'kvbr0' })).map((l) => l.name), ['kvv0'], 'kernel-side master filter')
  t.same((await rtnl.listLinks({ kind: 'veth' })).map((l) => l.name).sort(), ['kvv0', 'kvv1'], 'kernel-side kind filter')
  t.same(await rtnl.listLinks({ master: 'kvnobr' }), [], 'no such master: nothing is enslaved to it')

  await rtnl.setLink('kvv1', { mtu: 1280, mac: '02:00:00:00:00:c1', alias: 'peer', group: 77, master: br.index, up: true })
  const ip = await ipLink(ns, 'kvv1')
  t.equal(ip.mtu, 1280)
  t.equal(ip.address, '02:00:00:00:00:c1')
  t.equal(ip.ifalias, 'peer')
  t.equal(ip.master, 'kvbr0')
  t.equal(ip.group, '77')
  t.same((await rtnl.listLinks({ group: 77 })).map((l) => l.name), ['kvv1'], 'group filter')

  await rtnl.setLink('kvv1', { master: null, up: false })
  const after = await rtnl.getLink('kvv1')
  t.equal(after.master, undefined, 'nomaster')
  t.equal(after.up, false)
  await rtnl.setLink('kvv1', { name: 'kvrenamed' })
  t.equal((await rtnl.getLink(after.index)).name, 'kvrenamed', 'renamed by index')

  const badMaster = await rtnl.setLink('kvv0', { master: 'kvnobr' }).catch((e: unknown) => e)
  t.type(badMaster, SpecError)
  t.equal((badMaster as SpecError).field, 'master')
  await rtnl.deleteLink('kvv0')
  t.equal(await rtnl.findLink('kvrenamed'), undefined, 'deleting one veth end removes the pair')
})

t.test('moving a veth end to another namespace (create there, and setLink netns)', async (t) => {
  const { ns, rtnl } = await setup(t)
  const other = await makeNs(t, 'kvb')
  const otherRef = { path: other.path, name: other.name }
  await rtnl.addLink({ kind: 'veth', name: 'kvh0', peer: { name: 'kvg0', netns: otherRef } })
  t.equal(await rtnl.findLink('kvg0'), undefined, 'peer is not here')
  const there = Rtnl.open(otherRef)
  t.teardown(() => there.close())
  const g = await there.getLink('kvg0')
  t.equal(g.kind, 'veth')
  t.type((await rtnl.getLink('kvh0')).linkNetnsid, 'number', 'the peer is in another namespace')

  await rtnl.addLink({ kind: 'veth', name: 'kvh1', peer: { name: 'kvg1' } })
  await rtnl.setLink('kvg1', { netns: otherRef })
  t.equal(await rtnl.findLink('kvg1'), undefined)
  t.ok(await there.findLink('kvg1'), 'moved')
  t.ok((await ipLinks(other)).some((l) => l.ifname === 'kvg1'), 'iproute2 sees it there')
  t.notOk((await ipLinks(ns)).some((l) => l.ifname === 'kvg1'))
})

t.test('tap (persistent, through src/tap, configured over netlink)', async (t) => {
  const { ns, rtnl } = await setup(t)
  await rtnl.addLink({ kind: 'bridge', name: 'kvbr0', up: true })
  const tap = await rtnl.addLink({ kind: 'tap', name: 'kvtap0', vnetHdr: true, queues: 2, owner: 1000, ownerGroup: 1000, master: 'kvbr0', mtu: 1450, mac: '52:54:00:aa:bb:cc', group: 5, alias: 'port', up: true })
  t.match(tap, { kind: 'tun', mtu: 1450, mac: '52:54:00:aa:bb:cc', group: 5, alias: 'port', up: true, tun: { type: 'tap', persist: true, vnetHdr: true, multiQueue: true, owner: 1000, group: 1000 } })
  const ip = await ipLink(ns, 'kvtap0')
  t.equal(ip.master, 'kvbr0')
  t.equal(ip.linkinfo?.info_kind, 'tun')
  const ensured = await rtnl.ensureLink({ kind: 'tap', name: 'kvtap0', master: 'kvbr0', up: true })
  t.equal(ensured.created, false, 'an existing tap satisfies a tap spec')
  const dup = await rtnl.addLink({ kind: 'tap', name: 'kvtap0' }).catch((e: unknown) => e)
  t.ok(isExists(dup), 'addLink of an existing tap: EEXIST, not an attach')
  const badMaster = await rtnl.addLink({ kind: 'tap', name: 'kvtap1', master: 'kvnobr' }).catch((e: unknown) => e)
  t.type(badMaster, SpecError)
  t.equal(await rtnl.findLink('kvtap1'), undefined, 'nothing created')
})

t.test('macvlan and macvtap on a veth; /dev/tapN opens', async (t) => {
  const { ns, rtnl } = await setup(t)
  await rtnl.addLink({ kind: 'veth', name: 'kvnic0', peer: { name: 'kvnic1' }, up: true })
  const mv = await rtnl.addLink({ kind: 'macvlan', name: 'kvmv0', parent: 'kvnic0', mode: 'bridge', up: true })
  t.match(mv, { kind: 'macvlan', macvlan: { mode: 'bridge' } })
  t.equal(mv.tapDevice, undefined)
  const nic = await rtnl.getLink('kvnic0')
  t.equal(mv.parent, nic.index)

  const mt = await rtnl.addLink({ kind: 'macvtap', name: 'kvmt0', parent: nic.index, mode: 'vepa', mac: '52:54:00:00:00:01', group: 3, alias: 'vm', up: true })
  t.match(mt, { kind: 'macvtap', macvlan: { mode: 'vepa' }, mac: '52:54:00:00:00:01', group: 3, alias: 'vm' })
  t.equal(mt.tapDevice, `/dev/tap${mt.index}`)
  t.ok(existsSync(mt.tapDevice!), 'devtmpfs node exists')
  const fd = openSync(mt.tapDevice!, 'r+')
  t.ok(fd >= 0, 'the character device opens')
  closeSync(fd)
  const ip = await ipLink(ns, 'kvmt0')
  t.equal(ip.ifindex, mt.index)
  t.equal(ip.linkinfo?.info_data?.['mode'], 'vepa')

  const many = await Promise.all([1, 2, 3].map((i) => rtnl.addLink({ kind: 'macvtap', name: `kvmt${i}`, parent: 'kvnic0', mode: 'bridge' })))
  t.equal(new Set(many.map((l) => l.index)).size, 3, 'concurrent macvtaps get distinct indexes')
  for (const l of many) t.ok(existsSync(l.tapDevice!))
  await rtnl.deleteGroup(3)
  t.equal(await rtnl.findLink('kvmt0'), undefined)
  t.notOk(existsSync(mt.tapDevice!), 'its node went with it')
})

t.test('vxlan', async (t) => {
  const { ns, rtnl } = await setup(t)
  await ns.ip('link add kvu0 type veth peer name kvu1\naddr add 192.0.2.1/24 dev kvu0\nlink set kvu0 up')
  const vx = await rtnl.addLink({ kind: 'vxlan', name: 'kvvx0', vni: 4242, local: '192.0.2.1', remote: '192.0.2.9', parent: 'kvu0', up: true })
  t.match(vx, { kind: 'vxlan', vxlan: { vni: 4242, local: '192.0.2.1', remote: '192.0.2.9', port: 4789 } })
  const ip = await ipLink(ns, 'kvvx0')
  t.equal(ip.linkinfo?.info_data?.['id'], 4242)
  t.equal(ip.linkinfo?.info_data?.['remote'], '192.0.2.9')
  t.equal(ip.linkinfo?.info_data?.['port'], 4789)
  const mc = await rtnl.addLink({ kind: 'vxlan', name: 'kvvx1', vni: 7, multicastGroup: '239.1.1.1', parent: 'kvu0', port: 8472 })
  t.match(mc.vxlan, { vni: 7, multicastGroup: '239.1.1.1', port: 8472 })
})

t.test('200 links in a group, removed with one deleteGroup', async (t) => {
  const { ns, rtnl } = await setup(t)
  await rtnl.addLink({ kind: 'bridge', name: 'kvbr0', up: true })
  const made = await Promise.all(
    Array.from({ length: 200 }, (_, i) => rtnl.addLink({ kind: 'bridge', name: `kvg${i}`, group: 4242 })),
  )
  t.equal(made.length, 200)
  t.equal((await rtnl.listLinks({ group: 4242 })).length, 200)
  await rtnl.deleteGroup(4242)
  t.equal((await rtnl.listLinks({ group: 4242 })).length, 0)
  t.same((await ipLinks(ns)).map((l) => l.ifname).sort(), ['kvbr0', 'lo'], 'only the rest remains')
  const empty = await rtnl.deleteGroup(4242).catch((e: unknown) => e)
  t.ok(isNotFound(empty), 'an empty group: ENODEV')
  const zero = await rtnl.deleteGroup(0).catch((e: unknown) => e)
  t.type(zero, SpecError, 'group 0 (every link) is refused')
})

t.test('bad input: typed error, nothing created', async (t) => {
  const { ns, rtnl } = await setup(t)
  const before = (await ipLinks(ns)).map((l) => l.ifname).sort()
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ['name over 15 bytes', () => rtnl.addLink({ kind: 'bridge', name: 'a-very-long-bridge' }), 'name'],
    ['mtu out of range', () => rtnl.addLink({ kind: 'bridge', name: 'kvbr0', mtu: 70000 }), 'mtu'],
    ['unknown parent', () => rtnl.addLink({ kind: 'macvlan', name: 'kvmv0', parent: 'kvnonic' }), 'parent'],
    ['macvtap on a missing NIC', () => rtnl.addLink({ kind: 'macvtap', name: 'kvmt0', parent: 'eth9' }), 'parent'],
    ['macvtap on a missing ifindex', () => rtnl.addLink({ kind: 'macvtap', name: 'kvmt0', parent: 999 }), 'parent'],
    ['unknown master', () => rtnl.addLink({ kind: 'veth', name: 'kvv0', peer: { name: 'kvv1' }, master: 'kvnobr' }), 'master'],
    ['unknown kind', () => rtnl.addLink({ kind: 'dummy', name: 'kvd0' } as never), 'kind'],
    ['vni out of range', () => rtnl.addLink({ kind: 'vxlan', name: 'kvvx0', vni: 1 << 24 }), 'vni'],
    ['veth peer in a missing namespace', () => rtnl.addLink({ kind: 'veth', name: 'kvv0', peer: { name: 'kvv1', netns: { path: '/run/netns/kvb-none' } } }), 'peer.netns'],
  ]
  for (const [what, run, field] of cases) {
    const err = await run().catch((e: unknown) => e)
    t.type(err, SpecError, what)
    t.equal((err as SpecError).field, field, `${what}: field`)
  }
  t.same((await ipLinks(ns)).map((l) => l.ifname).sort(), before, 'no link was created')
})

t.test('setLinks: a round of changes without an ack each; a refused one rejects with its own error, the others are made', async (t) => {
  const ns = await makeNs(t, 's11')
  const rtnl = Rtnl.open(ns)
  t.teardown(() => rtnl.close())
  const br = await rtnl.addLink({ kind: 'bridge', name: 's11br' })
  const names = Array.from({ length: 300 }, (_, i) => `s11d${i}`)
  await ns.ip(names.map((n) => `tuntap add dev ${n} mode tap`).join('\n'))
  await rtnl.setLinks(names.map((n, i) => ({ ref: n, change: { group: 41, alias: `kvmnet:s11:${i}`, mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` } })))
  // The master by name: looked up once, whatever the number of links joining it.
  await rtnl.setLinks(names.map((n) => ({ ref: n, change: { master: 's11br', up: true } })))
  const got = await ipLinks(ns, 'group', '41')
  t.equal(got.length, 300, 'every link in the group')
  t.same(got.filter((l, i) => l.master !== 's11br' || !l.flags.includes('UP') || l.ifalias !== `kvmnet:s11:${names.indexOf(l.ifname)}` || i < 0), [], 'each with its alias, on the bridge, up')
  t.equal((await ipLink(ns, 's11d7')).address, '02:00:00:00:00:07', 'its MAC')
  // One link in the middle of a round is refused (no such link): that request's NetlinkError, naming it.
  const round = rtnl.setLinks(['s11d1', 's11nope', 's11d2'].map((n) => ({ ref: n, change: { mtu: 1400 } })))
  const err = await round.then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof NetlinkError && isNotFound(err), 'the NetlinkError ENODEV of that request')
  t.match((err as Error).message, /s11nope/, 'naming the missing link')
  await new Promise((r) => setTimeout(r, 50))
  t.equal((await ipLink(ns, 's11d2')).mtu, 1400, 'the request after the refused one was still carried out')
  await t.rejects(rtnl.setLinks([{ ref: 's11d1', change: { name: 's11x' } }]), SpecError, 'a rename is refused before anything is sent')
  t.equal(br.kind, 'bridge')
})
