/**
 * kvmnet beside libvirt's own networks, in one namespace with a private libvirt 9 (test/helpers/libvirtd.ts):
 * a libvirt NAT network (its dnsmasq, its iptables rules, nft backend) and a kvmnet NAT network, each with
 * a namespace guest, both reaching an "outside" namespace that has no route back to either subnet (every
 * reply proves a masquerade). libvirt rebuilding its rules (net-destroy + net-start, a libvirtd restart)
 * leaves kvmnet's guest working (polled, with kvmnet's watch on); kvmnet's down leaves libvirt's rules
 * byte-identical (counters aside). Then the collisions: `up` refuses a kvmnet network with a running or a
 * defined libvirt network's subnet or bridge name before touching anything, and doctor names a defined
 * libvirt network that collides with a kvmnet network already up.
 */
import t from 'tap'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork } from '../../src/index.js'
import { waitFor, type TestNs } from '../helpers/ns.js'
import { dhcp, ping } from '../helpers/guest.js'
import { guestOn, hostWithOutside, iptablesSave } from '../helpers/coexist.js'
import { tapGuest } from '../helpers/tap-guest.js'
import { libvirtSupport, startLibvirtd, type Libvirtd } from '../helpers/libvirtd.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { links } from '../helpers/ip.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const support = libvirtSupport()
const skip = support.ok ? false : support.reason

function libvirtNetXml(name: string, bridge: string, third: number): string {
  return `<network>
  <name>${name}</name>
  <forward mode='nat'/>
  <bridge name='${bridge}' stp='on' delay='0'/>
  <ip address='192.168.${third}.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.${third}.100' end='192.168.${third}.199'/></dhcp>
  </ip>
</network>
`
}

async function defineNet(lv: Libvirtd, name: string, bridge: string, third: number, start: boolean): Promise<void> {
  const file = join(lv.dir, `${name}.xml`)
  writeFileSync(file, libvirtNetXml(name, bridge, third))
  await lv.virsh(['net-define', file])
  if (start) await lv.virsh(['net-start', name])
}

/** libvirt's rules in the namespace: iptables-save (nft backend) and every nft table that is not kvmnet's, counters zeroed. */
async function libvirtRules(ns: TestNs): Promise<string> {
  const v4 = await iptablesSave(ns)
  const v6 = await iptablesSave(ns, 'ip6tables-nft-save')
  const nft = JSON.parse(await ns.run('nft', ['-j', 'list', 'ruleset'])) as { nftables: Array<Record<string, { table?: string; name?: string; handle?: number; expr?: unknown }>> }
  const items = nft.nftables.filter((o) => {
    const v = Object.values(o)[0]
    const table = 'table' in o ? v?.name : v?.table
    return !('metainfo' in o) && !String(table ?? '').startsWith('kvmnet')
  })
  // Counters in rule expressions are traffic, not rules.
  const text = JSON.stringify(items, (k, v: unknown) => (k === 'counter' && v && typeof v === 'object' ? { packets: 0, bytes: 0 } : v))
  return `${v4}\n---\n${v6}\n---\n${text}`
}

function kvmnetIn(lv: Libvirtd, args: string[], input?: string) {
  return lv.inMounts('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], input === undefined ? {} : { input })
}

t.test('a libvirt NAT network and a kvmnet NAT network in one namespace', { skip }, async (t) => {
  const { host, outside } = await hostWithOutside(t, 'kl')
  const lv = await startLibvirtd(t, host)
  await defineNet(lv, 'lvnat', 'virkl0', 150, true)
  t.match(await lv.virsh(['net-list']), /lvnat\s+active/, "libvirt's network runs")
  t.match(await host.run('iptables-nft-save'), /LIBVIRT_FWO/, 'with its iptables rules (nft backend)')

  const lguest = await guestOn(t, host, 'virkl0', 'klv0', 'kl', '52:54:00:82:01:01')
  const llease = await dhcp(lguest, 'eth0', { tries: 10 })
  t.match(llease?.ip, /^192\.168\.150\.1\d\d$/, "libvirt's guest leases from libvirt's dnsmasq")
  t.ok(await ping(lguest, '203.0.113.2'), "libvirt's guest reaches the outside through libvirt's NAT")

  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(
    { name: 'klnat', mode: 'nat', ipv4: { address: '10.82.0.1/24', dhcp: { range: ['10.82.0.50', '10.82.0.99'] } }, ports: [{ name: 'klk0', mac: '52:54:00:82:00:01', vnetHdr: false }] },
    { netns: host.name, stateRoot, watch: true },
  )
  t.teardown(async () => {
    await net.down().catch((err: Error) => t.comment(`teardown down: ${err.message}`))
    rmSync(stateRoot, { recursive: true, force: true })
  })
  // What kvmnet's watch had to put back, if libvirt's rebuilds disturbed anything of kvmnet's.
  const repairs: string[] = []
  net.on('repaired', (e: { what?: string; object?: string }) => repairs.push(JSON.stringify(e)))
  const before = await libvirtRules(host)
  await net.up()
  const kguest = await tapGuest(t, host, 'klk0', '52:54:00:82:00:01', '10.82.0.10/24', 'kl')
  await kguest.ip('route add default via 10.82.0.1')
  t.ok(await waitFor(() => ping(kguest, '203.0.113.2'), 20_000, 200), "kvmnet's guest reaches the outside through kvmnet's NAT")
  t.ok(await ping(lguest, '203.0.113.2'), "libvirt's guest still does")
  t.equal((await dhcp(lguest, 'eth0', { tries: 10 }))?.ip, llease?.ip, "libvirt's dnsmasq still serves its guest")

  // libvirt rebuilds its network: bridge, dnsmasq and rules anew.
  await lv.virsh(['net-destroy', 'lvnat'])
  await lv.virsh(['net-start', 'lvnat'])
  await host.ip('link set klv0 master virkl0 up')
  t.ok(await waitFor(() => ping(kguest, '203.0.113.2'), 30_000, 200), "after net-destroy + net-start, kvmnet's guest reaches the outside")
  t.ok(await waitFor(async () => (await dhcp(lguest, 'eth0', { tries: 10 })) !== undefined && (await ping(lguest, '203.0.113.2')), 60_000, 500), "and libvirt's guest, on the new bridge")

  // A libvirtd restart reloads the firewall rules of every running network.
  await lv.restart()
  t.match(await lv.virsh(['net-list']), /lvnat\s+active/, 'libvirtd is back with its network')
  t.ok(await waitFor(() => ping(kguest, '203.0.113.2'), 30_000, 200), "after a libvirtd restart, kvmnet's guest reaches the outside")
  t.ok(await waitFor(() => ping(lguest, '203.0.113.2'), 30_000, 200), "and libvirt's guest")
  t.ok(await ping(outside, '203.0.113.1'), 'the uplink answers')

  t.comment(`kvmnet's watch repaired ${repairs.length} thing(s) through libvirt's rebuilds${repairs.length ? `: ${repairs.join('; ')}` : ''}`)
  const beforeDown = await libvirtRules(host)
  await net.down()
  const after = await libvirtRules(host)
  t.equal(after, beforeDown, "kvmnet's down leaves libvirt's rules byte-identical (counters aside)")
  const noHandles = (r: string): string => r.replace(/"handle":\d+,?/g, '')
  t.equal(noHandles(after), noHandles(before), "and as they were before kvmnet's up, rule handles aside (libvirt rebuilt them twice)")
  t.ok(await ping(lguest, '203.0.113.2'), "libvirt's guest still reaches the outside after kvmnet's down")
  const theirs = lv.processes()
  t.ok(theirs.length > 0, "libvirt's dnsmasq runs on")
  await assertNothingLeft(t, host, 'klnat', stateRoot, theirs)
})

t.test("up refuses a running or defined libvirt network's subnet or bridge; doctor names one", { skip }, async (t) => {
  const { host } = await hostWithOutside(t, 'kl')
  const lv = await startLibvirtd(t, host)
  await defineNet(lv, 'lvrun', 'virkl0', 160, true)
  await defineNet(lv, 'lvidle', 'virkl1', 161, false)
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-lvcoll-'))
  t.teardown(async () => {
    await kvmnetIn(lv, ['down', 'klok', '--netns', host.name, '--state-root', stateRoot])
    rmSync(dir, { recursive: true, force: true })
    rmSync(stateRoot, { recursive: true, force: true })
  })
  const common = ['--netns', host.name, '--state-root', stateRoot, '--json']
  const linksBefore = (await links(host)).map((l) => l.ifname).sort()
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['the running network\'s subnet', { address: '192.168.160.1/24' }, 'ipv4.address', /lvrun/],
    ['a subnet inside the defined network\'s', { address: '192.168.161.129/25' }, 'ipv4.address', /net-start\) network lvidle/],
    ['the defined network\'s bridge name', { address: '10.83.0.1/24', bridge: 'virkl1' }, 'bridge', /bridge virkl1 .*lvidle/],
  ]
  for (const [what, v, field, names] of cases) {
    const spec = { name: 'klbad', mode: 'nat', ipv4: { address: v.address }, ...(v.bridge ? { bridge: v.bridge } : {}), ports: [{ name: 'klb0' }] }
    const r = await kvmnetIn(lv, ['up', '-', ...common], JSON.stringify(spec))
    t.equal(r.exitCode, 2, `${what}: up exits 2`)
    const err = (JSON.parse(r.stderr.trim().split('\n').pop() ?? '{}') as { error?: { field?: string; message?: string } }).error
    t.equal(err?.field, field, `${what}: the error names ${field}`)
    t.match(err?.message, names, `${what}: and libvirt's network (${err?.message})`)
  }
  t.same((await links(host)).map((l) => l.ifname).sort(), linksBefore, 'nothing was created')
  t.notOk(existsSync(stateRoot) && readdirSync(stateRoot, { recursive: true }).some((p) => String(p).includes('klbad')), 'no state recorded')

  // A kvmnet network that is up; libvirt gets a network defined on its subnet afterwards.
  writeFileSync(join(dir, 'ok.json'), JSON.stringify({ name: 'klok', mode: 'nat', ipv4: { address: '192.168.162.1/24' } }))
  const up = await kvmnetIn(lv, ['up', join(dir, 'ok.json'), '--netns', host.name, '--state-root', stateRoot])
  t.equal(up.exitCode, 0, `klok up: ${up.stderr}`)
  const clean = await kvmnetIn(lv, ['doctor', 'klok', ...common])
  t.notMatch(clean.stdout, /libvirt-collision/, 'doctor finds no libvirt collision yet')
  await defineNet(lv, 'lvlate', 'virkl2', 162, false)
  const doc = await kvmnetIn(lv, ['doctor', 'klok', ...common])
  const report = JSON.parse(doc.stdout) as { findings: Array<{ code: string; severity: string; object: string; problem: string }> }
  const f = report.findings.find((x) => x.code === 'libvirt-collision')
  t.equal(f?.object, 'libvirt network lvlate', 'doctor names the libvirt network')
  t.equal(f?.severity, 'warning', 'defined, not running: a warning (it collides at net-start)')
  t.match(f?.problem, /ipv4\.address .*192\.168\.162\.0\/24/, 'and the field and subnet')
  // The network already up keeps working: a converge (what a repair or a runtime change runs) is not refused.
  const again = await kvmnetIn(lv, ['up', join(dir, 'ok.json'), '--netns', host.name, '--state-root', stateRoot])
  t.equal(again.exitCode, 0, `klok converges beside the colliding definition: ${again.stderr}`)
  const moved = await kvmnetIn(lv, ['up', '-', ...common], JSON.stringify({ name: 'klok', mode: 'nat', ipv4: { address: '192.168.161.1/24' } }))
  t.equal(moved.exitCode, 2, "but moving it onto libvirt's defined subnet is refused")
  const start = await lv.virshTry(['net-start', 'lvlate'])
  t.not(start.exitCode, 0, `libvirt's net-start indeed fails on kvmnet's subnet: ${start.stderr.trim()}`)
})
