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
import { emptyRuntime } from '../../src/network/runtime.js'

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
})

t.test('attach and detach', async (t) => {
  const out: { value?: Attached } = {}
  const req = { mac: '02:AA:00:00:00:01', names: ['web', 'web-eth0'], portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }], leased: new Set<string>() }
  const [spec, runtime] = attachEdit(base, emptyRuntime(), req, out)
  t.same(out.value, { ip: '10.88.0.12', name: 'web', forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.88.0.12', guestPort: 80 }] })
  const s = spec as CniNetworkSpec
  t.same(s.ipv4?.dhcp?.hosts?.at(-1), { mac: '02:aa:00:00:00:01', ip: '10.88.0.12', name: 'web' }, 'MAC lower-cased')
  t.same(s.dns?.hosts?.at(-1), { name: 'web', ip: '10.88.0.12' }, 'a DNS record, so the name resolves before any lease')
  t.same(runtime, { ports: [], forwards: ['tcp/8080'], reservations: ['02:aa:00:00:00:01'], peers: [] }, 'runtime additions')
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
  t.same(detached?.[1], emptyRuntime())
  t.equal(detachEdit(base, emptyRuntime(), { mac: '02:aa:00:00:00:01', ip: '10.88.0.12' }), undefined, 'a second DEL has nothing to do')
  t.equal(detachEdit(base, emptyRuntime(), { mac: '52:54:00:00:00:01', ip: '10.88.0.10' }), undefined, "an operator's reservation and forward are never taken back")
})
