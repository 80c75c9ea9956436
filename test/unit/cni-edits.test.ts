/**
 * Address allocation and the edits an attachment makes to its network's spec (pure: Network.update runs
 * them under the network's lock): lowest free address, reservations and DNS records and forwards as
 * runtime additions, a retried ADD keeping its address, DEL taking back only what the runtime added.
 */
import t from 'tap'
import { CniError } from '../../src/cni/errors.js'
import { freeAddresses, pickAddress } from '../../src/cni/allocate.js'
import { attachEdit, detachEdit, type Attached } from '../../src/cni/edits.js'
import type { CniNetworkSpec } from '../../src/cni/config.js'
import { validateSpec } from '../../src/network/validate.js'
import { droppedRuntime, emptyRuntime, keepRuntime, withHeld } from '../../src/network/runtime.js'
import { capturedService } from '../../src/network/kinds/checks.js'
import { parsePrevResult } from '../../src/cni/prev-result.js'

const base = validateSpec({
  name: 'pods',
  mode: 'nat',
  ipv4: { address: '10.88.0.1/24', dhcp: { range: ['10.88.0.10', '10.88.0.14'], hosts: [{ mac: '52:54:00:00:00:01', ip: '10.88.0.10', name: 'vm' }] } },
  dns: { domain: 'pods.test', hosts: [{ name: 'db', ip: '10.88.0.11' }] },
  forwards: [{ proto: 'tcp', hostPort: 22, guest: '10.88.0.10' }],
}) as CniNetworkSpec

t.test('allocation', async (t) => {
  t.equal(pickAddress(base, new Set()), '10.88.0.12', 'skips reservations and DNS records')
  t.equal(pickAddress(base, new Set(['10.88.0.12'])), '10.88.0.13', 'skips leased addresses')
  t.equal(pickAddress(base, new Set(['10.88.0.12', '10.88.0.13', '10.88.0.14'])), undefined, 'exhausted')
  t.equal(freeAddresses(base, new Set(['10.88.0.12'])), 2)
  // Several ranges: the first one first, then the next, each in order.
  const ranges = validateSpec({ ...base, ipv4: { address: '10.88.0.1/24', dhcp: { ranges: [{ start: '10.88.0.50', end: '10.88.0.51' }, { start: '10.88.0.20', end: '10.88.0.21' }], hosts: [{ mac: '52:54:00:00:00:01', ip: '10.88.0.50', name: 'vm' }] } }, forwards: [] }) as CniNetworkSpec
  t.equal(pickAddress(ranges, new Set()), '10.88.0.51', 'ranges: the first free address of the first range')
  t.equal(pickAddress(ranges, new Set(['10.88.0.51'])), '10.88.0.20', 'then the next range')
  t.equal(pickAddress(ranges, new Set(['10.88.0.51', '10.88.0.20', '10.88.0.21'])), undefined, 'every range exhausted')
  t.equal(freeAddresses(ranges, new Set(['10.88.0.20'])), 2)
})

t.test('attach and detach', async (t) => {
  const out: { value?: Attached } = {}
  const req = { mac: '02:AA:00:00:00:01', names: ['web', 'web-eth0'], portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }], leased: new Set<string>() }
  const [spec, runtime] = attachEdit(base, emptyRuntime(), req, out)
  t.same(out.value, { ip: '10.88.0.12', name: 'web', forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.88.0.12', guestPort: 80 }] })
  const s = spec as CniNetworkSpec
  t.same(s.ipv4?.dhcp?.hosts?.at(-1), { mac: '02:aa:00:00:00:01', ip: '10.88.0.12', name: 'web' }, 'MAC lower-cased')
  t.same(s.dns?.hosts?.at(-1), { name: 'web', ip: '10.88.0.12' }, 'a DNS record, so the name resolves before any lease')
  t.same(
    runtime,
    { ports: [], forwards: ['tcp/8080'], reservations: ['02:aa:00:00:00:01'], peers: [], held: { reservations: ['02:aa:00:00:00:01'], forwards: ['tcp/8080'], dnsHosts: ['web=10.88.0.12'] } },
    'runtime additions, held by the attachment (an operator\'s up --prune keeps them)',
  )
  t.ok(validateSpec(spec), 'the edited spec is valid')

  const again: { value?: Attached } = {}
  const [spec2] = attachEdit(s, runtime, req, again)
  t.equal(again.value?.ip, '10.88.0.12', 'a retried ADD keeps its reservation')
  t.equal((spec2 as CniNetworkSpec).ipv4?.dhcp?.hosts?.length, 2, 'and adds nothing twice')
  t.equal(spec2.mode === 'nat' ? spec2.forwards?.length : 0, 2)

  const other: { value?: Attached } = {}
  const [spec3] = attachEdit(s, runtime, { ...req, mac: '02:aa:00:00:00:02', portMappings: [] }, other)
  t.same(other.value, { ip: '10.88.0.13', name: 'web-eth0', forwards: [] }, 'the next address; the taken name gets the interface appended')
  t.ok(validateSpec(spec3))

  const clash = (() => {
    try {
      attachEdit(s, runtime, { ...req, mac: '02:aa:00:00:00:03' }, {})
    } catch (err) {
      return err
    }
  })()
  t.ok(clash instanceof CniError && clash.code === 103, 'a host port forwarded to another guest: 103')
  const full = (() => {
    try {
      attachEdit(base, emptyRuntime(), { ...req, leased: new Set(['10.88.0.12', '10.88.0.13', '10.88.0.14']) }, {})
    } catch (err) {
      return err
    }
  })()
  t.ok(full instanceof CniError && full.code === 102, 'exhausted: 102')

  const detached = detachEdit(s, runtime, { mac: '02:AA:00:00:00:01', ip: '10.88.0.12' })
  t.ok(detached)
  t.same(detached?.[0], base, 'back to the spec it started from')
  t.same(detached?.[1], { ...emptyRuntime(), held: { reservations: [], forwards: [], dnsHosts: [] } }, 'nothing added or held any more')
  t.equal(detachEdit(base, emptyRuntime(), { mac: '02:aa:00:00:00:01', ip: '10.88.0.12' }), undefined, 'a second DEL has nothing to do')
  t.equal(detachEdit(base, emptyRuntime(), { mac: '52:54:00:00:00:01', ip: '10.88.0.10' }), undefined, "an operator's reservation and forward are never taken back")
})

t.test("what an attachment holds survives a full up of the original spec, pruning or not (withHeld)", async (t) => {
  const req = { mac: '02:aa:00:00:00:01', names: ['web'], portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }], leased: new Set<string>() }
  const [attached, runtime] = attachEdit(base, emptyRuntime(), req, {})
  const merged = validateSpec(withHeld(base, attached, runtime))
  t.same(merged, attached, 'the original spec gets the reservation, DNS record and forward back')
  t.same(droppedRuntime(runtime, merged), [], 'nothing to prune')
  t.same(keepRuntime(runtime, merged), runtime, 'and they stay held')
  t.same(droppedRuntime(runtime, base), ['forward tcp/8080', 'reservation 02:aa:00:00:00:01', 'dns record web=10.88.0.12'], 'without the merge, the DNS record is named among the removals too')
  const operatorOnly = { ...runtime, held: { reservations: [], forwards: [], dnsHosts: [] } }
  t.same(withHeld(base, attached, operatorOnly), base, 'runtime additions nobody holds are not put back (addForward, addReservation: prune removes them)')
})

t.test("forwards never capture a network's DNS or DHCP (capturedService)", async (t) => {
  const gw = ['10.88.0.1', 'fd00:88::1']
  t.equal(capturedService({ proto: 'udp', hostPort: 53 }, []), 'DNS (53)', 'on every address: every network\'s')
  t.equal(capturedService({ proto: 'tcp', hostPort: [1, 1000] }, []), 'DNS (53)')
  t.equal(capturedService({ proto: 'udp', hostPort: 67, hostAddress: '10.88.0.1' }, gw), 'DHCP (67)')
  t.equal(capturedService({ proto: 'udp', hostPort: 547, hostAddress: 'fd00:88::1' }, gw), 'DHCPv6 (547)')
  t.equal(capturedService({ proto: 'udp', hostPort: 53, hostAddress: '192.0.2.7' }, gw), undefined, 'an address that is no network\'s')
  t.equal(capturedService({ proto: 'udp', hostPort: 53, inInterface: 'eth0' }, gw), undefined, 'restricted to an interface')
  t.equal(capturedService({ proto: 'tcp', hostPort: 67 }, gw), undefined, 'DHCP is udp')
})

t.test('prevResult is checked against the result type', async (t) => {
  const bad = (v: unknown) => {
    try {
      parsePrevResult(v)
    } catch (err) {
      return err instanceof CniError && err.code === 7 ? err.details : `not a CNI error: ${String(err)}`
    }
    return 'accepted'
  }
  t.match(bad('garbage'), /^prevResult: must be a result object/)
  t.match(bad({ interfaces: 'x' }), /^prevResult\.interfaces: must be a list/)
  t.match(bad({ interfaces: [null] }), /^prevResult\.interfaces\[0\]: must be an object/)
  t.match(bad({ ips: [{ address: 7 }] }), /^prevResult\.ips\[0\]\.address: is required/)
  t.match(bad({ ips: [{ address: '10.0.0.2/24', interface: -1 }] }), /^prevResult\.ips\[0\]\.interface/)
  t.match(bad({ routes: [{ dst: '0.0.0.0/0', gw: 1 }] }), /^prevResult\.routes\[0\]\.gw/)
  t.match(bad({ dns: { nameservers: 'x' } }), /^prevResult\.dns\.nameservers/)
  const good = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ address: '10.0.0.2/24', interface: 0 }], routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }], dns: {} }
  t.same(parsePrevResult(good), good)
  t.equal(parsePrevResult(undefined), undefined)
})
