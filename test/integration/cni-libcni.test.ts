/**
 * kvmnet-cni through libcni (Debian's libcni 1.1.2, compiled into a minimal runtime at test time): libcni
 * builds each request (runtimeConfig from the capabilities, prevResult from its cache) and parses and
 * validates every result, as container runtimes do. libcni 1.1 knows the spec up to 1.0.0, so these
 * configurations say 1.0.0 (1.1.0 and its GC and STATUS are tested directly in cni-direct.test.ts).
 */
import t, { type Test } from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { addresses, link, links } from '../helpers/ip.js'
import { dhcp, ping, tcpGet, tcpServer } from '../helpers/guest.js'
import { assertNothingLeft, stateFileOf } from '../helpers/leftovers.js'
import { buildRuntime, checkAddResult, downNetwork, pluginDir, pluginMissing, recordedSpec, runtime, tempDir, writeConf, type RuntimeCall } from '../helpers/cni-runtime/index.js'

const skip = pluginMissing() ?? false

interface Setup {
  host: TestNs
  stateRoot: string
  rt: string
  call: (op: RuntimeCall['op'], containerId: string, netns: TestNs, extra?: Partial<RuntimeCall>) => ReturnType<typeof runtime>
}

async function setup(t: Test, name: string, subnet: number, extra: Record<string, unknown> = {}): Promise<Setup> {
  const rt = await buildRuntime()
  const host = await makeNs(t, 'kvc6-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => downNetwork(host, name, stateRoot))
  const dir = tempDir(t, 'kvmnet-cni-test-')
  const conf = writeConf(dir, name, {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'kvmnet-cni',
        stateRoot,
        network: {
          mode: 'nat',
          ipv4: { address: `10.231.${subnet}.1/24`, dhcp: { range: [`10.231.${subnet}.10`, `10.231.${subnet}.99`] } },
          dns: { domain: 'pods.test' },
        },
        capabilities: { portMappings: true },
        ...extra,
      },
    ],
  })
  const binDir = pluginDir(t)
  const cacheDir = join(dir, 'cache')
  return {
    host,
    stateRoot,
    rt,
    call: (op, containerId, netns, more = {}) => runtime(host, rt, { op, conf, containerId, netns: netns.path, ifname: 'eth0', binDir, cacheDir, ...more }),
  }
}

/** Links in the host namespace tagged as this container's attachment. */
async function attachmentLinks(host: TestNs, containerId: string): Promise<string[]> {
  return (await links(host)).filter((l) => l.ifalias?.includes(`:cni/${containerId}/`)).map((l) => l.ifname)
}

t.test('add, check, del through libcni; DEL twice; DEL after the namespace is gone', { skip }, async (t) => {
  const s = await setup(t, 'kvc6pods', 1)
  const c1 = await makeNs(t, 'kvc6-c')
  const add = await s.call('add', 'ctr-one', c1, { args: 'IgnoreUnknown=1;K8S_POD_NAME=one' })
  t.equal(add.exitCode, 0, `libcni add: ${add.stderr}`)
  t.same(checkAddResult(add.json, '1.0.0'), [], 'the result libcni parsed conforms to CNI 1.0.0')
  const r = add.json as { interfaces: { name: string; mac: string; sandbox?: string }[]; ips: { address: string; gateway: string; interface: number }[]; dns: { nameservers: string[]; domain: string } }
  const ip = r.ips[0]!
  t.match(ip.address, /^10\.231\.1\.\d+\/24$/, 'an address of the DHCP range')
  t.equal(ip.gateway, '10.231.1.1')
  const cont = r.interfaces[ip.interface]!
  t.equal(cont.name, 'eth0')
  t.equal(cont.sandbox, c1.path, 'the address is on the container interface')
  t.same(r.dns, { nameservers: ['10.231.1.1'], domain: 'pods.test', search: ['pods.test'] }, 'DNS from the spec')
  t.equal((await link(c1, 'eth0'))?.address, cont.mac, 'the MAC in the result is the container interface')
  t.same(await addresses(c1, 'eth0').then((a) => a.filter((x) => !x.startsWith('fe80'))), [ip.address])
  t.ok(await ping(c1, '10.231.1.1'), 'container -> gateway')
  const hostEnd = await link(s.host, r.interfaces[0]!.name)
  t.equal(hostEnd?.master, 'kvbr-kvc6pods', 'host end on the network bridge')
  t.match(hostEnd?.ifalias, /^kvmnet:kvc6pods:cni\/ctr-one\/eth0@[0-9a-f]{8}$/, 'host end tagged with the attachment')
  const spec = await recordedSpec(s.host, 'kvc6pods', s.stateRoot)
  t.same(spec?.ipv4.dhcp.hosts, [{ mac: cont.mac, ip: ip.address.split('/')[0], name: 'one' }], 'reservation MAC -> address, named after K8S_POD_NAME')

  const check = await s.call('check', 'ctr-one', c1)
  t.equal(check.exitCode, 0, `libcni check: ${check.stderr}`)
  await c1.ip(`addr del ${ip.address} dev eth0`)
  const broken = await s.call('check', 'ctr-one', c1)
  t.not(broken.exitCode, 0, 'check fails once the address is gone')
  t.match(broken.stderr, /lacks its address/)
  await c1.ip(`addr add ${ip.address} dev eth0\nroute add default via 10.231.1.1`)

  const del = await s.call('del', 'ctr-one', c1)
  t.equal(del.exitCode, 0, `libcni del: ${del.stderr}`)
  t.same(await attachmentLinks(s.host, 'ctr-one'), [], 'host end removed')
  t.notOk(await link(c1, 'eth0'), 'container end removed')
  t.same((await recordedSpec(s.host, 'kvc6pods', s.stateRoot))?.ipv4.dhcp.hosts, [], 'reservation removed')
  const again = await s.call('del', 'ctr-one', c1)
  t.equal(again.exitCode, 0, `second DEL succeeds: ${again.stderr}`)

  // DEL after the runtime deleted the namespace (the veth went with it).
  const c2 = await makeNs(t, 'kvc6-c')
  const add2 = await s.call('add', 'ctr-two', c2)
  t.equal(add2.exitCode, 0, add2.stderr)
  await c2.run('true')
  const { execa } = await import('execa')
  await execa('ip', ['netns', 'delete', c2.name])
  const del2 = await s.call('del', 'ctr-two', c2)
  t.equal(del2.exitCode, 0, `DEL with the namespace gone: ${del2.stderr}`)
  t.same(await attachmentLinks(s.host, 'ctr-two'), [], 'no host end left')
  t.same((await recordedSpec(s.host, 'kvc6pods', s.stateRoot))?.ipv4.dhcp.hosts, [], 'no reservation left')
  const cniDir = join(stateFileOf(s.stateRoot, 'kvc6pods')!.replace(/network\.json$/, ''), 'cni')
  t.same(readdirSync(cniDir).filter((f) => f.endsWith('.json')), [], 'no attachment record left')
  t.equal((await s.call('del', 'ctr-two', c2)).exitCode, 0, 'and DEL once more')

  await downNetwork(s.host, 'kvc6pods', s.stateRoot)
  await assertNothingLeft(t, s.host, 'kvc6pods', s.stateRoot)
})

t.test('a container leases its address, resolves its name, reaches the outside; port mappings', { skip }, async (t) => {
  const s = await setup(t, 'kvc6web', 2)
  // The "outside": TEST-NET-3 behind the host's uplink, with no route back to the pods (only NAT works).
  const out = await makeNs(t, 'kvc6-out')
  await s.host.ip([`link add uplink0 type veth peer name eth0 netns ${out.name}`, 'addr add 203.0.113.1/24 dev uplink0', 'link set uplink0 up', 'route add default via 203.0.113.2'].join('\n'))
  await out.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up'].join('\n'))
  tcpServer(out, 7000, 'outside')

  const c = await makeNs(t, 'kvc6-c')
  const add = await s.call('add', 'ctr-web', c, { args: 'K8S_POD_NAME=web', capArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } })
  t.equal(add.exitCode, 0, add.stderr)
  const ip = (add.json as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!

  const lease = await dhcp(c)
  t.equal(lease?.ip, ip, 'busybox udhcpc leases the address the plugin configured')
  t.equal(lease?.router, '10.231.2.1')
  const dig = await c.run('dig', ['+short', '+time=2', '+tries=2', '@10.231.2.1', 'web.pods.test'])
  t.equal(dig.trim(), ip, "the container's name resolves to its address at the network's dnsmasq")
  t.match(await tcpGet(c, '203.0.113.2', 7000), /^outside 203\.0\.113\.1\b/, 'the outside is reached, masqueraded behind the host')

  tcpServer(c, 80, 'pod')
  t.match(await tcpGet(out, '203.0.113.1', 8080), /^pod 203\.0\.113\.2\b/, 'host port 8080 -> container port 80 (portMappings)')
  const spec = await recordedSpec(s.host, 'kvc6web', s.stateRoot)
  t.same(spec?.forwards, [{ proto: 'tcp', hostPort: 8080, guest: ip, guestPort: 80 }], 'the mapping is a kvmnet forward')

  const del = await s.call('del', 'ctr-web', c, { capArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } })
  t.equal(del.exitCode, 0, del.stderr)
  t.same((await recordedSpec(s.host, 'kvc6web', s.stateRoot))?.forwards, [], 'forward removed on DEL')
  t.notMatch(await s.host.run('nft', ['list', 'ruleset']), /8080/, 'no rule for the host port is left')
  t.equal(await tcpGet(out, '203.0.113.1', 8080), undefined, 'the host port no longer leads anywhere')
})
