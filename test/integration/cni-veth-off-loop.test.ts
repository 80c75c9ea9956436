/**
 * kvmnet-cni's veth create is sent from a pool thread (Rtnl.addLink's `offLoop`): the kernel makes the
 * pair, moves the peer into the container and enslaves the host end inside the sender's sendmsg(), and the
 * event loop goes on with the ADD's apply meanwhile. Proven by order, not by time: with every libuv pool
 * thread held on a FIFO, the loop still answers netlink requests while the create waits for a thread, and
 * the link is not there yet; released, it is made. A refused create still rejects with the kernel's errno;
 * through the plugin, a host end name held by someone else's link fails the ADD and rolls it back (no
 * record, no reservation, no forward, nothing in the container), while a leftover of the attachment's own
 * is cleared and the ADD goes through.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { NetlinkError } from '../../src/errors.js'
import { Netns } from '../../src/netns/index.js'
import { Rtnl } from '../../src/rtnl/index.js'
import { checkErrorResult, downNetwork, invokePlugin, pluginMissing, recordedSpec } from '../helpers/cni-runtime/index.js'
import { link, links } from '../helpers/ip.js'
import { makeNs } from '../helpers/ns.js'
import { holdPool } from '../helpers/hold-pool.js'
import { rtnlInNewNs } from '../helpers/rtnl.js'
import { stateFileOf } from '../helpers/leftovers.js'

t.test('the veth create waits for a pool thread while the event loop serves netlink', async (t) => {
  const { ns, rtnl } = await rtnlInNewNs(t, 'c11v')
  const cont = await makeNs(t, 'c11v-c')
  const br = await rtnl.addLink({ kind: 'bridge', name: 'c11vbr', up: true })
  const pool = await holdPool(t)
  const settled: string[] = []
  const made = rtnl
    .addLink({ kind: 'veth', name: 'c11vh', master: 'c11vbr', group: 4243, up: true, peer: { name: 'eth0', netns: Netns.open(cont.path) } }, { offLoop: true })
    .then((l) => {
      settled.push('create')
      return l
    })
  // Another socket of the same namespace: a round trip needs the event loop, not the pool.
  const other = Rtnl.open({ path: ns.path, name: ns.name })
  t.teardown(() => other.close())
  t.equal((await other.getLink('c11vbr')).index, br.index, 'the loop answered a request while the create was pending')
  t.equal(await other.findLink('c11vh'), undefined, 'the veth is not made yet')
  t.same(settled, [], 'the create has not settled')
  await pool.release()
  const l = await made
  t.same(settled, ['create'])
  t.equal(l.master, br.index, 'the host end is on the bridge')
  t.equal(l.group, 4243)
  t.ok((await link(cont, 'eth0'))?.linkinfo?.info_kind === 'veth', 'the peer is in the container')
})

t.test('a refused off-loop create rejects with the kernel errno and makes nothing', async (t) => {
  const { ns, rtnl } = await rtnlInNewNs(t, 'c11v')
  const cont = await makeNs(t, 'c11v-c')
  await rtnl.addLink({ kind: 'bridge', name: 'c11vbr', up: true })
  await ns.run('ip', ['link', 'add', 'c11vh', 'type', 'bridge'])
  const peer = { name: 'eth0', netns: Netns.open(cont.path) }
  const taken = await rtnl.addLink({ kind: 'veth', name: 'c11vh', master: 'c11vbr', peer }, { offLoop: true }).catch((e: unknown) => e)
  t.type(taken, NetlinkError)
  t.equal((taken as NetlinkError).code, 'EEXIST', 'the host end name is taken')
  t.same((await links(cont)).map((l) => l.ifname), ['lo'], 'no peer was left in the container')
  await cont.run('ip', ['link', 'add', 'eth0', 'type', 'bridge'])
  const peerTaken = await rtnl.addLink({ kind: 'veth', name: 'c11vh2', master: 'c11vbr', peer }, { offLoop: true }).catch((e: unknown) => e)
  t.equal((peerTaken as NetlinkError).code, 'EEXIST', 'the peer name is taken in the container')
  t.equal(await rtnl.findLink('c11vh2'), undefined, 'no host end was left')
  // lo takes no ports: the kernel makes the pair, fails to enslave it and unregisters it, all in the one request.
  const badMaster = await rtnl.addLink({ kind: 'veth', name: 'c11vh3', master: 'lo', peer: { name: 'c11vp3' } }, { offLoop: true }).catch((e: unknown) => e)
  t.type(badMaster, NetlinkError, `a master the kernel refuses: ${String(badMaster)}`)
  t.ok((badMaster as NetlinkError).code, `with its errno (${(badMaster as NetlinkError).code})`)
  t.equal(await rtnl.findLink('c11vh3'), undefined)
  t.equal(await rtnl.findLink('c11vp3'), undefined)
})

const skip = pluginMissing() ?? false

t.test("kvmnet-cni: a leftover of the attachment's own host end is cleared; someone else's fails the ADD, rolled back", { skip }, async (t) => {
  const host = await makeNs(t, 'c11v-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const name = 'c11vnet'
  t.teardown(() => downNetwork(host, name, stateRoot))
  const c = await makeNs(t, 'c11v-c')
  const conf = {
    cniVersion: '1.1.0',
    name,
    type: 'kvmnet-cni',
    stateRoot,
    network: { mode: 'nat', ipv4: { address: '10.232.71.1/24', dhcp: { range: ['10.232.71.10', '10.232.71.99'] } }, dns: { enabled: false } },
    runtimeConfig: { portMappings: [{ hostPort: 8471, containerPort: 80, protocol: 'tcp' }] },
  }
  const attach = { config: conf, containerId: 'c11v1', netns: c.path, ifname: 'eth0' }
  // Another attachment stays, so the network stays up through the DELs below.
  const c0 = await makeNs(t, 'c11v-c')
  t.equal((await invokePlugin(host, { ...attach, command: 'ADD', containerId: 'c11v0', netns: c0.path, config: { ...conf, runtimeConfig: {} } })).exitCode, 0)

  const first = await invokePlugin(host, { ...attach, command: 'ADD' })
  t.equal(first.exitCode, 0, first.stderr)
  const hostEnd = (first.json as { interfaces: { name: string }[] }).interfaces[0]!.name
  const alias = (await link(host, hostEnd))?.ifalias
  t.match(alias, /:cni\//, 'the host end carries the attachment alias')
  t.equal((await invokePlugin(host, { ...attach, command: 'DEL' })).exitCode, 0)

  // What an ADD killed after its create and before the container's set-up leaves: a link of its name and alias.
  await host.run('ip', ['link', 'add', hostEnd, 'type', 'bridge'])
  await host.run('ip', ['link', 'set', hostEnd, 'alias', alias!])
  const again = await invokePlugin(host, { ...attach, command: 'ADD' })
  t.equal(again.exitCode, 0, `the leftover is cleared and the ADD goes through: ${again.stderr}`)
  t.equal((await link(host, hostEnd))?.linkinfo?.info_kind, 'veth', 'the host end is a veth again')
  t.ok(await link(c, 'eth0'))
  t.equal((await invokePlugin(host, { ...attach, command: 'DEL' })).exitCode, 0)

  // Someone else's link of that name (no alias, another group): left alone, the ADD fails and is undone.
  await host.run('ip', ['link', 'add', hostEnd, 'type', 'bridge'])
  t.teardown(() => host.try('ip', ['link', 'del', hostEnd]))
  const refused = await invokePlugin(host, { ...attach, command: 'ADD' })
  t.not(refused.exitCode, 0, 'the ADD fails')
  t.same(checkErrorResult(refused.json, '1.1.0'), [], 'a CNI error result')
  t.match(refused.stderr, /EEXIST|exists/, `the kernel's refusal is named: ${refused.stderr.trim()}`)
  t.equal((await link(host, hostEnd))?.linkinfo?.info_kind, 'bridge', "the other link is untouched")
  t.same((await links(c)).map((l) => l.ifname), ['lo'], 'nothing in the container')
  const spec = await recordedSpec(host, name, stateRoot)
  t.same(spec?.ipv4.dhcp.hosts.length, 1, "only the staying attachment's reservation is recorded")
  t.same(spec?.forwards ?? [], [], 'no forward for the refused attachment')
  const records = join(stateFileOf(stateRoot, name)!.replace(/network\.json$/, ''), 'cni')
  t.same(existsSync(records) ? readdirSync(records).filter((f) => f.startsWith('c11v1')) : [], [], 'no record of the refused attachment')
  const nft = await host.run('nft', ['list', 'ruleset'])
  t.notMatch(nft, /8471/, 'no rule for its port mapping')
})
