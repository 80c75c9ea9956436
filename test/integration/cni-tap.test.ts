/**
 * The tap attachment, as a VM runtime uses it (KubeVirt's `domainAttachmentType: tap` binding opens a
 * tap named CNI_IFNAME in the pod's namespace and gives the guest that tap's MAC): a real QEMU guest
 * attached to that tap leases the address the plugin reserved, resolves the network's DNS server and
 * reaches the gateway; DEL removes the tap and its wiring.
 */
import t from 'tap'
import { makeNs } from '../helpers/ns.js'
import { link, links } from '../helpers/ip.js'
import { bootGuest, GuestBootError, guestSupport } from '../helpers/qemu.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { checkAddResult, downNetwork, invokePlugin, pluginMissing, recordedSpec } from '../helpers/cni-runtime/index.js'

const support = guestSupport()
const skip = pluginMissing() ?? (support.ok ? false : support.reason)

t.test('a QEMU guest on the tap attachment leases its reserved address and reaches the gateway', { skip }, async (t) => {
  const host = await makeNs(t, 'kvc6-host')
  const pod = await makeNs(t, 'kvc6-vm')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => downNetwork(host, 'kvc6vms', stateRoot))
  const config = {
    cniVersion: '1.1.0',
    name: 'kvc6vms',
    type: 'kvmnet-cni',
    stateRoot,
    attachment: 'tap',
    network: { mode: 'nat', ipv4: { address: '10.234.0.1/24', dhcp: { range: ['10.234.0.10', '10.234.0.99'] } }, dns: { domain: 'vms.test' } },
  }
  const call = { config, containerId: 'vm-one', netns: pod.path, ifname: 'pod1a2b3c4d' }
  const add = await invokePlugin(host, { command: 'ADD', ...call })
  t.equal(add.exitCode, 0, add.stderr)
  t.same(checkAddResult(add.json, '1.1.0'), [], 'the result conforms')
  const r = add.json as { interfaces: { name: string; mac: string; sandbox?: string }[]; ips: { address: string; interface: number }[] }
  const tapIf = r.interfaces[r.ips[0]!.interface]!
  t.equal(tapIf.name, 'pod1a2b3c4d')
  t.equal(tapIf.sandbox, pod.path)
  const tap = await link(pod, 'pod1a2b3c4d')
  t.equal(tap?.linkinfo?.info_kind, 'tun', 'CNI_IFNAME is a tap in the pod namespace')
  t.equal(tap?.address, tapIf.mac, "the tap's MAC is the one in the result (what KubeVirt gives the guest)")
  t.same((await links(pod)).filter((l) => l.linkinfo?.info_kind === 'bridge'), [], 'no bridge in the pod: tc redirects wire the tap')

  const ip = r.ips[0]!.address.split('/')[0]
  const boot = { netnsPath: pod.path, tapName: 'pod1a2b3c4d', mac: tapIf.mac, checks: { ping: ['10.234.0.1'] } }
  const report = await bootGuest(boot).catch((err: unknown) => {
    // Some hosts' KVM aborts qemu outright ("failed to set MSR ..."), which the helper does not take for
    // a stall: the guest runs under TCG then.
    if (err instanceof GuestBootError && err.report.accel === 'kvm' && /kvm/i.test(err.stderr)) {
      t.comment(`KVM failed here (${err.stderr.trim().split('\n')[0]}); booting under TCG`)
      return bootGuest({ ...boot, accel: 'tcg' })
    }
    throw err
  })
  t.comment(`guest booted (${report.accel}) and finished in ${report.bootMs.toFixed(0)} ms`)
  t.equal(report.lease?.ip, ip, 'the guest leased the address the plugin reserved for it')
  t.equal(report.lease?.router, '10.234.0.1')
  t.equal(report.pings['10.234.0.1'], true, 'guest -> gateway')

  const check = await invokePlugin(host, { command: 'CHECK', ...call, config: { ...config, prevResult: add.json } })
  t.equal(check.exitCode, 0, `CHECK: ${check.stdout}`)
  const del = await invokePlugin(host, { command: 'DEL', ...call })
  t.equal(del.exitCode, 0, del.stderr)
  t.same((await links(pod)).map((l) => l.ifname), ['lo'], 'tap and inner veth end removed')
  t.same((await recordedSpec(host, 'kvc6vms', stateRoot))?.ipv4.dhcp.hosts, [], 'reservation removed')
  await downNetwork(host, 'kvc6vms', stateRoot)
  await assertNothingLeft(t, host, 'kvc6vms', stateRoot)
})
