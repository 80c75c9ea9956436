/**
 * libvirt-managed guests on a kvmnet NAT network: libvirt 9 (a private libvirtd in the test namespace)
 * defines and starts two QEMU domains (TCG), one attached to a kvmnet port through the element
 * `kvmnet port-xml` prints (type='ethernet', the existing tap, managed='no'), one through
 * type='bridge' on kvmnet's bridge (libvirt makes its own tap). Each leases its reservation from
 * kvmnet's dnsmasq, reaches the "internet" namespace (which has no route back to the guest subnet:
 * every reply proves kvmnet's masquerade), and is reached by a kvmnet port forward; `kvmnet leases`
 * lists both. `virsh destroy` and `kvmnet down` then leave nothing of kvmnet's.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { tcpServer } from '../helpers/guest.js'
import { guestSupport, tcpKey } from '../helpers/qemu.js'
import { libvirtSupport, startLibvirtd } from '../helpers/libvirtd.js'
import { startLibvirtGuest } from '../helpers/libvirt-guest.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { links } from '../helpers/ip.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const guest = guestSupport()
const lv = libvirtSupport()
const skip = !guest.ok ? guest.reason : !lv.ok ? lv.reason : false

function kvmnet(args: string[], opts: { input?: string } = {}) {
  return execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, timeout: 120_000, input: opts.input, reject: false })
}

/** A host namespace with an uplink to an "internet" namespace that has no route back to `subnet`. */
async function hostAndInternet(t: Test): Promise<{ host: TestNs; inet: TestNs }> {
  const host = await makeNs(t, 'kl')
  const inet = await makeNs(t, 'kl')
  await host.ip([`link add uplink0 type veth peer name eth0 netns ${inet.name}`, 'addr add 203.0.113.1/24 dev uplink0', 'link set uplink0 up', 'route add default via 203.0.113.2'].join('\n'))
  await inet.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up'].join('\n'))
  return { host, inet }
}

async function connects(from: TestNs, host: string, port: number): Promise<boolean> {
  const r = await from.try('socat', ['-T', '3', '/dev/null', `TCP:${host}:${port},connect-timeout=3`], { timeout: 8000 })
  return r.exitCode === 0
}

t.test('libvirt domains attached through port-xml and through type=bridge use a kvmnet NAT network', { skip }, async (t) => {
  const { host, inet } = await hostAndInternet(t)
  tcpServer(inet, 8080, 'internet')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const common = ['--netns', host.name, '--state-root', stateRoot]
  const macA = '52:54:00:81:00:0a'
  const macB = '52:54:00:81:00:0b'
  const spec = {
    name: 'lvdom',
    mode: 'nat',
    ipv4: {
      address: '10.81.0.1/24',
      dhcp: { range: ['10.81.0.50', '10.81.0.99'], hosts: [{ mac: macA, ip: '10.81.0.10', name: 'viaport' }, { mac: macB, ip: '10.81.0.11', name: 'viabridge' }] },
    },
    ports: [{ name: 'lv.p0-A_1', mac: macA }],
    forwards: [
      { proto: 'tcp', hostPort: 8022, guest: '10.81.0.10', guestPort: 7000 },
      { proto: 'tcp', hostPort: 8023, guest: '10.81.0.11', guestPort: 7000 },
    ],
  }
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-lvdom-'))
  t.teardown(async () => {
    await kvmnet(['down', 'lvdom', ...common])
    rmSync(dir, { recursive: true, force: true })
    rmSync(stateRoot, { recursive: true, force: true })
  })
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec))
  const up = await kvmnet(['up', join(dir, 'spec.json'), ...common])
  t.equal(up.exitCode, 0, `kvmnet up: ${up.stderr}`)

  const xml = await kvmnet(['port-xml', 'lvdom', 'lv.p0-A_1', ...common])
  t.equal(xml.exitCode, 0, `port-xml: ${xml.stderr}`)
  t.match(xml.stdout, /<interface type='ethernet'>[\s\S]*<target dev='lv\.p0-A_1' managed='no'\/>/, 'port-xml names the tap, unmanaged')
  const missing = await kvmnet(['port-xml', 'lvdom', 'nope', ...common])
  t.not(missing.exitCode, 0, 'port-xml of a port the network lacks fails')
  t.match(missing.stderr, /no port named nope/)

  const libvirt = await startLibvirtd(t, host)
  const bridgeXml = `<interface type='bridge'>\n  <mac address='${macB}'/>\n  <source bridge='kvbr-lvdom'/>\n  <model type='virtio'/>\n</interface>\n`
  const checks = { ping: ['10.81.0.1', '203.0.113.2'], tcp: [{ host: '203.0.113.2', port: 8080 }], listen: 7000, waitForPeers: 240 }
  const a = await startLibvirtGuest(libvirt, { name: 'kl-viaport', interfaceXml: xml.stdout, checks })
  const b = await startLibvirtGuest(libvirt, { name: 'kl-viabridge', interfaceXml: bridgeXml, checks })
  const live = await libvirt.virsh(['dumpxml', 'kl-viaport'])
  t.match(live, /<target dev='lv\.p0-A_1' managed='no'\/>/, 'libvirt took the element as it is')
  t.ok((await links(host)).some((l) => l.master === 'kvbr-lvdom' && l.ifname.startsWith('vnet')), 'libvirt put a tap of its own on the bridge')

  // Each guest stays up (listening on 7000) until something connects: the forwards are that something.
  for (const [port, g] of [[8022, a], [8023, b]] as const) {
    await waitFor(() => connects(inet, '203.0.113.1', port), 300_000, 1000).catch((err: Error) => {
      throw new Error(`forward ${port} never reached ${g.name}: ${err.message}\n${g.serial().slice(-2000)}`)
    })
    t.pass(`a forward from the outside reaches ${g.name}`)
  }
  const [ra, rb] = await Promise.all([a.results(), b.results()])
  for (const [r, ip, name] of [[ra, '10.81.0.10', 'port-xml'], [rb, '10.81.0.11', 'type=bridge']] as const) {
    t.equal(r.lease?.ip, ip, `${name}: leased its reservation from kvmnet's dnsmasq`)
    t.equal(r.lease?.router, '10.81.0.1', `${name}: the router is kvmnet's bridge`)
    t.equal(r.pings['203.0.113.2'], true, `${name}: reaches the outside (masqueraded)`)
    t.equal(r.tcp[tcpKey('203.0.113.2', 8080)], true, `${name}: TCP to the outside`)
  }
  const leases = await kvmnet(['leases', 'lvdom', '--json', ...common])
  const listed = JSON.parse(leases.stdout) as Array<{ mac: string; ip: string; port?: string }>
  t.ok(listed.some((l) => l.mac === macA && l.ip === '10.81.0.10' && l.port === 'lv.p0-A_1'), 'kvmnet leases lists the port-xml guest on its port')
  t.ok(listed.some((l) => l.mac === macB && l.ip === '10.81.0.11'), 'kvmnet leases lists the type=bridge guest')

  // Each guest powered itself off once its checks were done (on_poweroff=destroy); started again, the
  // defined domains are destroyed while they run, as an operator would.
  for (const g of [a, b]) {
    await g.shutOff()
    await libvirt.virsh(['start', g.name])
    t.match(await libvirt.virsh(['domstate', g.name]), /running/, `${g.name} runs again`)
    await libvirt.virsh(['destroy', g.name])
    t.pass(`virsh destroy ${g.name}`)
  }
  t.notOk((await links(host)).some((l) => l.ifname.startsWith('vnet')), "libvirt removed its own tap")
  t.ok((await links(host)).some((l) => l.ifname === 'lv.p0-A_1'), "libvirt left kvmnet's tap alone (managed='no')")
  const down = await kvmnet(['down', 'lvdom', ...common])
  t.equal(down.exitCode, 0, `kvmnet down: ${down.stderr}`)
  await assertNothingLeft(t, host, 'lvdom', stateRoot)
})

t.test("a libvirt domain on a kvmnet macvtap port through port-xml: libvirt opens kvmnet's macvtap as it is", { skip }, async (t) => {
  // The NIC's LAN: a veth whose other end is in a "LAN" namespace at 198.51.100.1.
  const host = await makeNs(t, 'kl')
  const lan = await makeNs(t, 'kl')
  await host.ip([`link add nic0 type veth peer name eth0 netns ${lan.name}`, 'link set nic0 up'].join('\n'))
  await lan.ip(['addr add 198.51.100.1/24 dev eth0', 'link set eth0 up'].join('\n'))
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const common = ['--netns', host.name, '--state-root', stateRoot]
  const mac = '52:54:00:81:01:0c'
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-lvmv-'))
  t.teardown(async () => {
    await kvmnet(['down', 'lvmv', ...common])
    rmSync(dir, { recursive: true, force: true })
    rmSync(stateRoot, { recursive: true, force: true })
  })
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({ name: 'lvmv', mode: 'macvtap', interface: 'nic0', ports: [{ name: 'lvmv0', mac }] }))
  const up = await kvmnet(['up', join(dir, 'spec.json'), ...common])
  t.equal(up.exitCode, 0, `kvmnet up: ${up.stderr}`)
  const xml = await kvmnet(['port-xml', 'lvmv', 'lvmv0', ...common])
  t.match(xml.stdout, /<interface type='ethernet'>[\s\S]*<target dev='lvmv0' managed='no'\/>/, 'the macvtap, unmanaged')
  const indexBefore = (await links(host)).find((l) => l.ifname === 'lvmv0')?.ifindex

  const libvirt = await startLibvirtd(t, host)
  const g = await startLibvirtGuest(libvirt, { name: 'kl-macvtap', interfaceXml: xml.stdout, checks: { address: '198.51.100.10/24', ping: ['198.51.100.1'] } })
  const r = await g.results()
  t.equal(r.mac, mac, "the guest's NIC has the port's MAC")
  t.equal(r.pings['198.51.100.1'], true, "the guest reaches the NIC's LAN through kvmnet's macvtap")
  t.equal((await links(host)).find((l) => l.ifname === 'lvmv0')?.ifindex, indexBefore, 'the same macvtap: libvirt made none of its own')
  t.notOk((await links(host)).some((l) => l.ifname.startsWith('macvtap')), 'no macvtap of libvirt\'s')
  await g.shutOff()
  await libvirt.virsh(['start', g.name])
  await libvirt.virsh(['destroy', g.name])
  t.ok((await links(host)).some((l) => l.ifname === 'lvmv0'), "virsh destroy leaves kvmnet's macvtap")
  const down = await kvmnet(['down', 'lvmv', ...common])
  t.equal(down.exitCode, 0, `kvmnet down: ${down.stderr}`)
  await assertNothingLeft(t, host, 'lvmv', stateRoot)
})
