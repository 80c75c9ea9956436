/**
 * One network stretched across three "hypervisors" with VXLAN. Namespaces A, B and C stand for the hosts,
 * their eth0 on an underlay bridge in a fourth namespace (198.51.100.0/24). A runs a nat network with
 * DHCP — the segment's gateway, with an uplink to an "outside" namespace (203.0.113.0/24) — and B and C
 * very-isolated networks joined to it at L2 only. Guests on B and C are namespaces whose eth0 is a veth on
 * their host's kvmnet bridge: they lease from A's dnsmasq (with the MTU the underlay leaves), reach each
 * other across hosts, and the outside through A's NAT. Then peers at runtime and by converge, the vxlan's
 * tags (down removes it, a foreign one of the same name is refused, a half-made one is finished), and the
 * cost of the vxlan in Network.up.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, defaultLinkGroup, SpecError, WouldRemoveError, type Network, type NetworkSpecInput } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { link } from '../helpers/ip.js'
import { tcpGet, tcpServer } from '../helpers/guest.js'
import { scratchDir } from '../helpers/scratch.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** A udhcpc script that applies the MTU option (when the server sends it) and prints the lease. */
const SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    echo "LEASE ip=$ip router=\${router%% *} mtu=$mtu"
    ;;
esac
exit 0
`
const script = join(scratchDir('kvmnet-vxlan-'), 'udhcpc.sh')
writeFileSync(script, SCRIPT, { mode: 0o755 })

interface VxLease {
  ip: string
  router: string
  mtu: string
  ms: number
}

/** busybox udhcpc asking for option 26 (MTU) too. */
async function lease(guest: TestNs): Promise<VxLease | undefined> {
  const start = performance.now()
  const r = await guest.try('busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '6', '-T', '1', '-O', 'mtu', '-s', script], { timeout: 30_000 })
  const ms = performance.now() - start
  const m = r.stdout.match(/LEASE ip=(\S+) router=(\S*) mtu=(\S*)/)
  return r.exitCode === 0 && m ? { ip: m[1] ?? '', router: m[2] ?? '', mtu: m[3] ?? '', ms } : undefined
}

/** Ping `count` times; the average RTT in ms, or undefined when nothing came back. */
async function pingRtt(from: TestNs, to: string, count = 1): Promise<number | undefined> {
  const r = await from.try('busybox', ['ping', '-c', String(count), '-W', '2', to], { timeout: 30_000 })
  const m = r.stdout.match(/min\/avg\/max = [\d.]+\/([\d.]+)\//)
  return r.exitCode === 0 && m ? Number(m[1]) : undefined
}

/** A guest: a namespace whose eth0 is a veth enslaved to `bridge` on `host`. */
async function guestOn(t: Test, host: TestNs, bridge: string, veth: string): Promise<TestNs> {
  const g = await makeNs(t, 'kvx')
  await host.ip([`link add ${veth} type veth peer name eth0 netns ${g.name}`, `link set ${veth} master ${bridge} up`].join('\n'))
  await g.ip('link set eth0 up')
  return g
}

/** An underlay: a bridge in its own namespace, and a veth to it as eth0 of each host with the given address. */
async function underlay(t: Test, hosts: [TestNs, string][]): Promise<TestNs> {
  const und = await makeNs(t, 'kvx')
  await und.ip('link add ul0 type bridge\nlink set ul0 up')
  for (const [i, [host, addr]] of hosts.entries()) {
    await und.ip([`link add h${i} type veth peer name eth0 netns ${host.name}`, `link set h${i} master ul0 up`].join('\n'))
    await host.ip([`addr add ${addr}/24 dev eth0`, 'link set eth0 up'].join('\n'))
  }
  return und
}

function networkIn(t: Test, host: TestNs, spec: NetworkSpecInput): Network {
  const net = createNetwork(spec, { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  return net
}

interface FdbJson {
  mac: string
  dst?: string
  flags?: string[]
  state?: string
  ifname?: string
}

/** The flooding entries of a vxlan as iproute2 reads them back from the kernel. */
async function floodDsts(ns: TestNs, dev: string): Promise<string[]> {
  const all = JSON.parse(await ns.run('bridge', ['-j', 'fdb', 'show', 'dev', dev])) as FdbJson[]
  return all
    .filter((e) => e.mac === '00:00:00:00:00:00' && e.dst)
    .map((e) => e.dst ?? '')
    .sort()
}

function kvmnet(args: string[]) {
  return execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, timeout: 60_000, reject: false })
}

const GATEWAY: NetworkSpecInput = {
  name: 'seg',
  mode: 'nat',
  ipv4: { address: '10.77.0.1/24', dhcp: { range: ['10.77.0.100', '10.77.0.200'] } },
  vxlan: { vni: 4242, local: '198.51.100.1', peers: ['198.51.100.2', '198.51.100.3'] },
}

t.test('three hosts, one segment: DHCP from the gateway host, guests across hosts, NAT out of A', async (t) => {
  const [a, b, c, outside] = [await makeNs(t, 'kvx'), await makeNs(t, 'kvx'), await makeNs(t, 'kvx'), await makeNs(t, 'kvx')]
  await underlay(t, [
    [a, '198.51.100.1'],
    [b, '198.51.100.2'],
    [c, '198.51.100.3'],
  ])
  await a.ip(['link add up1 type veth peer name eth0 netns ' + outside.name, 'addr add 203.0.113.1/24 dev up1', 'link set up1 up', 'route add default via 203.0.113.2'].join('\n'))
  await outside.ip('addr add 203.0.113.2/24 dev eth0\nlink set eth0 up')

  const netA = networkIn(t, a, GATEWAY)
  const netB = networkIn(t, b, { name: 'seg', mode: 'very-isolated', vxlan: { vni: 4242, local: '198.51.100.2', peers: ['198.51.100.1', '198.51.100.3'] } })
  // No `local` on C: the underlay is found by the route toward the first peer.
  const netC = networkIn(t, c, { name: 'seg', mode: 'very-isolated', vxlan: { vni: 4242, peers: ['198.51.100.1', '198.51.100.2'] } })
  const upA = await netA.up()
  await netB.up()
  await netC.up()
  t.comment(`Network.up of the gateway (nat + DHCP + vxlan with 2 peers): ${upA.totalMs.toFixed(1)} ms; vxlan steps ${upA.steps.filter((s) => s.step.startsWith('vxlan')).map((s) => `${s.step} ${s.ms.toFixed(1)} ms`).join(', ')}`)

  for (const [host, net] of [
    [a, netA],
    [b, netB],
    [c, netC],
  ] as const) {
    const vx = await link(host, 'kvvx-seg')
    t.equal(vx?.linkinfo?.info_kind, 'vxlan', `${host.name}: the vxlan device`)
    t.equal(vx?.master, 'kvbr-seg', 'enslaved to the bridge')
    t.equal(vx?.mtu, 1450, 'underlay 1500 - 50')
    t.equal((await link(host, 'kvbr-seg'))?.mtu, 1450, 'and so is the bridge')
    t.match(vx?.ifalias, /^kvmnet:seg:vxlan@/, "tagged: the network's alias")
    t.equal(Number(vx?.group), defaultLinkGroup('seg'), "and the network's link group")
    t.equal((await host.run('cat', ['/proc/sys/net/ipv6/conf/kvvx-seg/disable_ipv6'])).trim(), '1', 'no host IPv6 on the segment')
    const st = await net.status()
    t.same(st.problems, [], 'status: up')
    t.equal(st.vxlan?.vni, 4242)
    t.equal(st.vxlan?.peers.length, 2, 'status shows both peers')
  }
  t.same(await floodDsts(b, 'kvvx-seg'), ['198.51.100.1', '198.51.100.3'], "B's flooding entries, as iproute2 reads them")
  // One machine-id for all three "hosts" here, as on hosts cloned from one image: the bridges still differ.
  const macs = await Promise.all([a, b, c].map(async (h) => (await link(h, 'kvbr-seg'))?.address))
  t.equal(new Set(macs).size, 3, `every host's bridge has its own MAC (${macs.join(' ')})`)

  const gB = await guestOn(t, b, 'kvbr-seg', 'gb0')
  const gC = await guestOn(t, c, 'kvbr-seg', 'gc0')
  const leaseB = await lease(gB)
  const leaseC = await lease(gC)
  t.ok(leaseB && leaseC, "guests on B and C lease from A's dnsmasq across the tunnel")
  t.equal(leaseB?.router, '10.77.0.1', 'the gateway is A')
  t.equal(leaseB?.mtu, '1450', 'the lease carries the underlay MTU - 50')
  t.comment(`DHCP lease on B (udhcpc start to bound): ${leaseB?.ms.toFixed(0)} ms`)

  t.ok(await pingRtt(gB, leaseC?.ip ?? ''), 'guest on B -> guest on C')
  const rtt = await pingRtt(gC, leaseB?.ip ?? '', 5)
  t.ok(rtt, 'guest on C -> guest on B')
  t.comment(`cross-host ping RTT (C -> B, 5 pings, busybox avg): ${rtt} ms`)
  t.ok(await pingRtt(gB, '10.77.0.1'), 'guest on B -> its gateway on A')
  // A full-size frame of the reduced MTU crosses unfragmented: 1450 - 28 bytes of ICMP payload + headers.
  const big = await gB.try('busybox', ['ping', '-c', '1', '-W', '2', '-s', '1422', leaseC?.ip ?? ''])
  t.equal(big.exitCode, 0, 'a 1450-byte packet crosses the tunnel')

  tcpServer(outside, 8080, 'outside')
  await new Promise((r) => setTimeout(r, 300))
  t.equal(await tcpGet(gB, '203.0.113.2', 8080), 'outside 203.0.113.1', "the outside, through A's NAT: it sees A's address")

  // B and C drop each other: floods no longer go there, and what each learned behind the other goes with
  // it. (Both: were C still to flood to B, any broadcast of C's guest — an ARP, a DHCP renewal — would
  // teach B where C's guest is again, and B -> C would work again by the time of the ping.)
  await Promise.all([netB.removePeer('198.51.100.3'), netC.removePeer('198.51.100.2')])
  t.same(await floodDsts(b, 'kvvx-seg'), ['198.51.100.1'])
  t.same((await netB.status()).vxlan?.peers, ['198.51.100.1'])
  t.notOk(await pingRtt(gB, leaseC?.ip ?? ''), 'guest on B no longer reaches the guest on C')
  t.ok(await pingRtt(gB, '10.77.0.1'), 'but still its gateway on A')
  await Promise.all([netB.addPeer('198.51.100.3'), netC.addPeer('198.51.100.2')])
  t.ok(await pingRtt(gB, leaseC?.ip ?? ''), 'adding them back restores B -> C')

  for (const [host, net] of [
    [a, netA],
    [b, netB],
    [c, netC],
  ] as const) {
    await net.down()
    t.equal(await link(host, 'kvvx-seg'), undefined, `${host.name}: down removed the vxlan`)
    await assertNothingLeft(t, host, 'seg')
  }
})

t.test('converge: peers follow the spec; runtime peers are a visible difference; plan shows them', async (t) => {
  const h = await makeNs(t, 'kvx')
  await underlay(t, [[h, '198.51.100.1']])
  const spec = { name: 'cv', mode: 'isolated', vxlan: { vni: 77, local: '198.51.100.1', peers: ['198.51.100.2', '198.51.100.3'] } } as const
  const net = networkIn(t, h, spec)
  await net.up()
  t.same(await floodDsts(h, 'kvvx-cv'), ['198.51.100.2', '198.51.100.3'])

  // The entries kvmnet made are the ones `bridge fdb append` makes, as the kernel reports them.
  await h.ip('link add vxref type vxlan id 78 local 198.51.100.1 dstport 4789')
  await h.run('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', 'vxref', 'dst', '198.51.100.2'])
  await h.run('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', 'vxref', 'dst', '198.51.100.3'])
  const strip = async (dev: string) => (JSON.parse(await h.run('bridge', ['-j', 'fdb', 'show', 'dev', dev])) as FdbJson[]).filter((e) => e.dst).map(({ ifname: _, ...e }) => e)
  t.same(await strip('kvvx-cv'), await strip('vxref'), 'same entries as iproute2 makes')
  await h.ip('link del vxref')

  const stateRoot = `/run/kvmnet-test/${h.name}`
  const edited = { ...spec, vxlan: { ...spec.vxlan, peers: ['198.51.100.3', '198.51.100.4'] } }
  const file = join(scratchDir('kvmnet-vxlan-'), 'cv.json')
  writeFileSync(file, JSON.stringify(edited))
  const dry = await kvmnet(['up', file, '--dry-run', '--netns', h.name, '--state-root', stateRoot])
  t.equal(dry.exitCode, 0, dry.stderr)
  t.match(dry.stdout, /^\+ vxlan peer 198\.51\.100\.4$/m, 'plan: the new peer')
  t.match(dry.stdout, /^- vxlan peer 198\.51\.100\.2$/m, 'plan: the dropped one')
  const r = await net.up(edited)
  t.ok(r.steps.some((s) => s.step === 'vxlan-peers' && s.detail === '+1 -1'), 'one step adds and removes')
  t.notOk(r.steps.some((s) => s.step === 'vxlan' || s.step === 'vxlan-replace'), 'the device itself stays')
  t.same(await floodDsts(h, 'kvvx-cv'), ['198.51.100.3', '198.51.100.4'])
  const again = await net.up(edited)
  t.notOk(again.steps.some((s) => s.step.startsWith('vxlan')), 'the same spec again changes nothing')

  // A peer added at runtime through the CLI (JSON report), then an up of the file without it.
  const add = await kvmnet(['peer', 'add', 'cv', '198.51.100.9', '--json', '--netns', h.name, '--state-root', stateRoot])
  t.equal(add.exitCode, 0, add.stderr)
  t.ok((JSON.parse(add.stdout) as { steps: { step: string; detail?: string }[] }).steps.some((s) => s.step === 'vxlan-peers' && s.detail === '+1 -0'))
  t.same(await floodDsts(h, 'kvvx-cv'), ['198.51.100.3', '198.51.100.4', '198.51.100.9'])
  const status = await kvmnet(['status', '--netns', h.name, '--state-root', stateRoot])
  t.match(status.stdout, /VXLAN/, 'status has a vxlan column')
  t.match(status.stdout, /kvvx-cv vni 77: 198\.51\.100\.3 198\.51\.100\.4 198\.51\.100\.9/)
  await t.rejects(net.up(edited), WouldRemoveError, 'up of the file would drop the runtime peer: refused')
  await net.up(edited, { prune: true })
  t.same(await floodDsts(h, 'kvvx-cv'), ['198.51.100.3', '198.51.100.4'], '--prune removes it')
  const rm = await kvmnet(['peer', 'rm', 'cv', '198.51.100.7', '--netns', h.name, '--state-root', stateRoot])
  t.equal(rm.exitCode, 1, 'removing a peer that is not there: not found')
  t.match(rm.stderr, /198\.51\.100\.7/)

  // A new VNI needs a new device; the peers come along.
  const renumbered = await net.up({ ...edited, vxlan: { ...edited.vxlan, vni: 78 } })
  t.ok(renumbered.steps.some((s) => s.step === 'vxlan-replace'))
  t.match((await h.run('ip', ['-d', 'link', 'show', 'kvvx-cv'])), /vxlan id 78 /)
  t.same(await floodDsts(h, 'kvvx-cv'), ['198.51.100.3', '198.51.100.4'])
  // Without `peers` the flooding entries are not kvmnet's (an EVPN daemon's, say): an up leaves them be.
  await h.run('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', 'kvvx-cv', 'dst', '198.51.100.5'])
  const unmanaged = await net.up({ name: 'cv', mode: 'isolated', vxlan: { vni: 78, local: '198.51.100.1' } })
  t.notOk(unmanaged.steps.some((s) => s.step.startsWith('vxlan')))
  t.same(await floodDsts(h, 'kvvx-cv'), ['198.51.100.3', '198.51.100.4', '198.51.100.5'], 'entries left as they are')
  t.same((await net.status()).problems, [], 'and not reported as strays')
  // Dropping the section removes the device.
  await net.up({ name: 'cv', mode: 'isolated' })
  t.equal(await link(h, 'kvvx-cv'), undefined, 'a converge without vxlan removes it')
  await net.down()
  await assertNothingLeft(t, h, 'cv')
})

t.test('the vxlan is tagged: a foreign one of that name is refused and kept, a half-made one finished', async (t) => {
  const h = await makeNs(t, 'kvx')
  await underlay(t, [[h, '198.51.100.1']])
  // An administrator's vxlan that happens to have the name kvmnet would give the network's.
  await h.ip('link add kvvx-fx type vxlan id 99 local 198.51.100.1 dstport 4789')
  const before = await link(h, 'kvvx-fx')
  const net = networkIn(t, h, { name: 'fx', mode: 'very-isolated', vxlan: { vni: 5, peers: ['198.51.100.2'] } })
  const err = await net.up().catch((e: unknown) => e)
  t.ok(err instanceof SpecError, 'a SpecError')
  t.match(err, { field: 'vxlan', message: /kvvx-fx already exists and is not managed by kvmnet/ })
  t.same(await link(h, 'kvvx-fx'), before, 'the foreign vxlan is exactly as it was')
  t.equal(await link(h, 'kvbr-fx'), undefined, 'the rest rolled back')
  await h.ip('link del kvvx-fx')

  // A failure right at the peers: the new vxlan goes with the rollback.
  const failing = createNetwork(
    { name: 'fx', mode: 'very-isolated', vxlan: { vni: 5, peers: ['198.51.100.2'] } },
    {
      netns: h.name,
      stateRoot: `/run/kvmnet-test/${h.name}`,
      faultInjector: (step) => {
        if (step.startsWith('vxlan-peers')) throw new Error('injected')
      },
    },
  )
  await t.rejects(failing.up(), /injected/)
  t.equal(await link(h, 'kvvx-fx'), undefined, 'rolled back: no vxlan')

  await net.up()
  // What a process killed between the creating request and the alias leaves: the group, no alias.
  await h.ip('link set dev kvvx-fx alias ""')
  t.equal((await link(h, 'kvvx-fx'))?.ifalias, undefined)
  const repair = await net.up()
  t.ok(repair.steps.some((s) => s.step === 'vxlan-attach' && s.outcome === 'repaired'), 'up finishes tagging it')
  t.match((await link(h, 'kvvx-fx'))?.ifalias, /^kvmnet:fx:vxlan@/)
  await h.ip('link set dev kvvx-fx alias ""')
  await net.down()
  t.equal(await link(h, 'kvvx-fx'), undefined, 'down removes a half-made vxlan too (its group and name)')
  await assertNothingLeft(t, h, 'fx')
})

t.test('an IPv6 underlay: 70 bytes of headers, peers found without local', async (t) => {
  const [a, b] = [await makeNs(t, 'kvx'), await makeNs(t, 'kvx')]
  const und = await makeNs(t, 'kvx')
  await und.ip('link add ul0 type bridge\nlink set ul0 up')
  for (const [i, [host, addr]] of ([[a, '2001:db8:77::1'], [b, '2001:db8:77::2']] as const).entries()) {
    await und.ip([`link add h${i} type veth peer name eth0 netns ${host.name}`, `link set h${i} master ul0 up`].join('\n'))
    await host.ip([`addr add ${addr}/64 dev eth0 nodad`, 'link set eth0 up'].join('\n'))
  }
  // A without `local`: an IPv6 device all the same (its peers say so).
  const netA = networkIn(t, a, { name: 'v6', mode: 'very-isolated', vxlan: { vni: 600, peers: ['2001:db8:77::2'] } })
  const netB = networkIn(t, b, { name: 'v6', mode: 'very-isolated', vxlan: { vni: 600, local: '2001:db8:77::2', peers: ['2001:db8:77::1'] } })
  await netA.up()
  await netB.up()
  t.equal((await link(a, 'kvvx-v6'))?.mtu, 1430, 'underlay 1500 - 70')
  t.equal((await link(b, 'kvbr-v6'))?.mtu, 1430)
  t.same(await floodDsts(a, 'kvvx-v6'), ['2001:db8:77::2'])
  const gA = await guestOn(t, a, 'kvbr-v6', 'ga0')
  const gB = await guestOn(t, b, 'kvbr-v6', 'gb0')
  await gA.ip('addr add 10.79.0.1/24 dev eth0\nlink set eth0 mtu 1430')
  await gB.ip('addr add 10.79.0.2/24 dev eth0\nlink set eth0 mtu 1430')
  t.ok(await pingRtt(gA, '10.79.0.2'), 'guests reach each other over the IPv6 underlay')
  await netA.down()
  await netB.down()
  await assertNothingLeft(t, a, 'v6')
  await assertNothingLeft(t, b, 'v6')
})

t.test('a multicast group instead of peers', async (t) => {
  const [a, b] = [await makeNs(t, 'kvx'), await makeNs(t, 'kvx')]
  await underlay(t, [
    [a, '198.51.100.1'],
    [b, '198.51.100.2'],
  ])
  const spec = (local: string): NetworkSpecInput => ({ name: 'mc', mode: 'very-isolated', vxlan: { vni: 700, local, underlay: 'eth0', group: '239.1.1.70' } })
  const netA = networkIn(t, a, spec('198.51.100.1'))
  const netB = networkIn(t, b, spec('198.51.100.2'))
  await netA.up()
  await netB.up()
  t.match(await a.run('ip', ['-d', 'link', 'show', 'kvvx-mc']), /vxlan id 700 group 239\.1\.1\.70 local 198\.51\.100\.1 dev eth0 /)
  const st = await netA.status()
  t.same(st.problems, [])
  t.equal(st.vxlan?.group, '239.1.1.70')
  t.equal(st.vxlan?.underlay, 'eth0')
  const gA = await guestOn(t, a, 'kvbr-mc', 'ga0')
  const gB = await guestOn(t, b, 'kvbr-mc', 'gb0')
  await gA.ip('addr add 10.80.0.1/24 dev eth0')
  await gB.ip('addr add 10.80.0.2/24 dev eth0')
  t.ok(await pingRtt(gA, '10.80.0.2'), 'guests find each other through the group')
  await netA.down()
  await netB.down()
  await assertNothingLeft(t, a, 'mc')
})

t.test('the cost of a vxlan in Network.up (same namespace, alternating)', async (t) => {
  const h = await makeNs(t, 'kvx')
  await underlay(t, [[h, '198.51.100.1']])
  const vxlan = { vni: 9, local: '198.51.100.1', peers: ['198.51.100.2', '198.51.100.3'] }
  const nat: NetworkSpecInput = { name: 'tm', mode: 'nat', ipv4: { address: '10.78.0.1/24', dhcp: { range: ['10.78.0.100', '10.78.0.200'] } } }
  const l2: NetworkSpecInput = { name: 'tm', mode: 'very-isolated' }
  const specs = { nat, 'nat+vxlan': { ...nat, vxlan } as NetworkSpecInput, 'very-isolated': l2, 'very-isolated+vxlan': { ...l2, vxlan } as NetworkSpecInput }
  const times: Record<string, number[]> = {}
  for (let i = 0; i < 7; i++) {
    for (const [k, spec] of Object.entries(specs)) {
      const net = createNetwork(spec, { netns: h.name, stateRoot: `/run/kvmnet-test/${h.name}` })
      const r = await net.up()
      ;(times[k] ??= []).push(r.totalMs)
      await net.down()
    }
  }
  const median = (xs: number[] = []) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0
  t.comment(`Network.up, median of 7: ${Object.keys(specs).map((k) => `${k} ${median(times[k]).toFixed(1)} ms`).join(', ')}`)
  // A loose bound: the machine is shared, and nat's time is mostly nft and dnsmasq, which the vxlan runs beside.
  t.ok(median(times['nat+vxlan']) < median(times.nat) * 2 + 50, 'the vxlan adds little to an up')
  await assertNothingLeft(t, h, 'tm')
})
