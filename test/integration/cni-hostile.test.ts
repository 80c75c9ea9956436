/**
 * kvmnet-cni against a hostile or careless runtime (issue 20, CNI): a repeated DEL whose prevResult names
 * an address since reused, DEL with CNI_NETNS that is no namespace, CNI_NETNS naming the network's own
 * namespace, port mappings onto a network's DNS/DHCP, an ADD killed during the network's bring-up, a
 * 300-character container id, a second attachment of one container, a garbage prevResult, and the DNS
 * records of attachments across an operator's `kvmnet up --prune`.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { link, links } from '../helpers/ip.js'
import { assertNothingLeft, stateFileOf } from '../helpers/leftovers.js'
import { checkErrorResult, downNetwork, invokePlugin, PLUGIN, pluginMissing, recordedSpec, tempDir } from '../helpers/cni-runtime/index.js'

const skip = pluginMissing() ?? false

/** A nat network on one of the documentation /24s (192.0.2, 198.51.100, 203.0.113). */
function config(stateRoot: string, name: string, net: string, more: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.1.0',
    name,
    type: 'kvmnet-cni',
    stateRoot,
    network: { mode: 'nat', ipv4: { address: `${net}.1/24`, dhcp: { range: [`${net}.10`, `${net}.99`] } } },
    ...more,
  }
}

async function hostFor(t: Test, ...names: string[]): Promise<{ host: TestNs; stateRoot: string }> {
  const host = await makeNs(t, 'kc-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(async () => {
    for (const n of names) await downNetwork(host, n, stateRoot)
  })
  return { host, stateRoot }
}

function errorOf(t: Test, r: { exitCode: number; json: unknown; stderr: string }, codes: number[]): Record<string, unknown> {
  t.not(r.exitCode, 0, 'non-zero exit')
  t.same(checkErrorResult(r.json, '1.1.0'), [], 'a CNI error result on stdout')
  t.ok(codes.includes((r.json as { code?: number })?.code ?? -1), `code ${codes.join(' or ')}: ${r.stderr.trim()}`)
  return (r.json ?? {}) as Record<string, unknown>
}

type AddResult = { interfaces: { name: string }[]; ips: { address: string }[]; routes?: { dst: string; gw?: string }[] }
const ipOf = (r: unknown) => (r as AddResult).ips[0]!.address.split('/')[0]
const forwardsOf = async (host: TestNs, name: string, stateRoot: string) =>
  ((await recordedSpec(host, name, stateRoot))?.forwards ?? []).map((f: { proto: string; hostPort: number; guest: string }) => `${f.proto}/${f.hostPort}->${f.guest}`)
const mapping = (hostPort: number, extra: Record<string, unknown> = {}) => ({ runtimeConfig: { portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp', ...extra }] } })

t.test("8: a repeated DEL of an old container does not remove the forwards of the pod now on its address", { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kc8')
  const [c1, c2] = [await makeNs(t, 'kc-c'), await makeNs(t, 'kc-c')]
  const base = config(stateRoot, 'kc8', '192.0.2')
  const add1 = await invokePlugin(host, { command: 'ADD', config: { ...base, ...mapping(8080) }, containerId: 'old', netns: c1.path, ifname: 'eth0' })
  t.equal(add1.exitCode, 0, add1.stderr)
  const del1 = { command: 'DEL' as const, config: { ...base, ...mapping(8080), prevResult: add1.json }, containerId: 'old', netns: c1.path, ifname: 'eth0' }
  t.equal((await invokePlugin(host, del1)).exitCode, 0)
  const add2 = await invokePlugin(host, { command: 'ADD', config: { ...base, ...mapping(8081) }, containerId: 'new', netns: c2.path, ifname: 'eth0' })
  t.equal(add2.exitCode, 0, add2.stderr)
  t.equal(ipOf(add2.json), ipOf(add1.json), 'the new pod got the old pod\'s address')
  t.same(await forwardsOf(host, 'kc8', stateRoot), [`tcp/8081->${ipOf(add2.json)}`])
  const again = await invokePlugin(host, del1)
  t.equal(again.exitCode, 0, `the repeated DEL succeeds: ${again.stderr}`)
  t.same(await forwardsOf(host, 'kc8', stateRoot), [`tcp/8081->${ipOf(add2.json)}`], "the new pod's forward stays")
  t.ok(await link(c2, 'eth0'), "the new pod's interface stays")
})

t.test('9: DEL with CNI_NETNS that is no namespace releases what is recorded, exit 0', { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kc9')
  const dir = tempDir(t, 'kc9-')
  const pin = join(dir, 'unmounted-pin')
  writeFileSync(pin, '')
  mkdirSync(join(dir, 'a-directory'))
  const base = config(stateRoot, 'kc9', '198.51.100')
  for (const [i, netns] of [pin, join(dir, 'a-directory'), '/dev/null'].entries()) {
    const c = await makeNs(t, 'kc-c')
    const conf = { ...base, ...mapping(9000 + i) }
    const add = await invokePlugin(host, { command: 'ADD', config: conf, containerId: `pin${i}`, netns: c.path, ifname: 'eth0' })
    t.equal(add.exitCode, 0, add.stderr)
    const hostEnd = (add.json as AddResult).interfaces[0]!.name
    const del = await invokePlugin(host, { command: 'DEL', config: { ...conf, prevResult: add.json }, containerId: `pin${i}`, netns, ifname: 'eth0' })
    t.equal(del.exitCode, 0, `DEL with CNI_NETNS ${netns}: ${del.stdout} ${del.stderr}`)
    const spec = await recordedSpec(host, 'kc9', stateRoot)
    t.same(spec?.ipv4.dhcp.hosts ?? [], [], `${netns}: the reservation is released`)
    t.same(await forwardsOf(host, 'kc9', stateRoot), [], `${netns}: the forward is released`)
    t.notOk(await link(host, hostEnd), `${netns}: the host end is removed`)
    t.notOk(existsSync(stateFileOf(stateRoot, 'kc9')!.replace(/network\.json$/, `cni/pin${i}:eth0.json`)), `${netns}: the record is removed`)
  }
})

t.test("10: CNI_NETNS naming the network's own namespace is refused, nothing configured", { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kc10')
  const conf = config(stateRoot, 'kc10', '203.0.113')
  for (const netns of ['/proc/self/ns/net', host.path]) {
    const r = await invokePlugin(host, { command: 'ADD', config: conf, containerId: 'self', netns, ifname: 'eth0' })
    t.match(errorOf(t, r, [3, 4]).details, /CNI_NETNS/, `${netns}: the variable is named`)
    t.same((await links(host)).map((l) => l.ifname), ['lo'], `${netns}: no link in the network's namespace`)
    t.notOk(stateFileOf(stateRoot, 'kc10'), `${netns}: the network was not brought up`)
  }
})

t.test("11: no port mapping captures a kvmnet network's DNS or DHCP", { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kc11a', 'kc11b')
  const a = config(stateRoot, 'kc11a', '192.0.2')
  const b = config(stateRoot, 'kc11b', '198.51.100')
  const ca = await makeNs(t, 'kc-c')
  t.equal((await invokePlugin(host, { command: 'ADD', config: a, containerId: 'a0', netns: ca.path, ifname: 'eth0' })).exitCode, 0, 'network kc11a is up')
  const cb = await makeNs(t, 'kc-c')
  t.equal((await invokePlugin(host, { command: 'ADD', config: b, containerId: 'b0', netns: cb.path, ifname: 'eth0' })).exitCode, 0, 'network kc11b is up')
  const cases: [string, Record<string, unknown>][] = [
    ["udp/53 on the other network's gateway", { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '192.0.2.1' }],
    ["tcp/53 on the other network's gateway", { hostPort: 53, containerPort: 53, protocol: 'tcp', hostIP: '192.0.2.1' }],
    ["udp/67 on the other network's gateway", { hostPort: 67, containerPort: 67, protocol: 'udp', hostIP: '192.0.2.1' }],
    ["udp/547 on the other network's gateway", { hostPort: 547, containerPort: 547, protocol: 'udp', hostIP: '192.0.2.1' }],
    ["udp/53 on this network's gateway", { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '198.51.100.1' }],
    ['udp/53 on every address', { hostPort: 53, containerPort: 53, protocol: 'udp' }],
    ['udp/67 on every address', { hostPort: 67, containerPort: 67, protocol: 'udp' }],
  ]
  for (const [i, [what, m]] of cases.entries()) {
    const c = await makeNs(t, 'kc-c')
    const r = await invokePlugin(host, { command: 'ADD', config: { ...b, runtimeConfig: { portMappings: [m] } }, containerId: `dns${i}`, netns: c.path, ifname: 'eth0' })
    t.match(errorOf(t, r, [7]).details, /portMappings\[0\].*(DNS|DHCP)/, `${what}: refused, saying why`)
    t.notOk(await link(c, 'eth0'), `${what}: nothing configured in the container`)
  }
  t.same(await forwardsOf(host, 'kc11b', stateRoot), [], 'no forward was added')
  // The library's own check, for any user: addForward onto another network's DNS is refused.
  const { openNetwork, SpecError } = await import('../../src/index.js')
  const net = await openNetwork('kc11b', { netns: host.name, stateRoot })
  t.teardown(() => net.close())
  await t.rejects(net.addForward({ proto: 'udp', hostPort: 53, guest: '198.51.100.10', hostAddress: '192.0.2.1' }), SpecError, 'addForward is refused as well')
})

t.test('12: an ADD killed during the bring-up leaves nothing permanent: GC takes the network down, no lock or temp file left', { skip }, async (t) => {
  // Killed at several moments of the bring-up: once the bring-up lock exists, once the bridge exists,
  // once the state file exists.
  const moments: [string, (host: TestNs, stateRoot: string) => Promise<boolean>][] = [
    ['the bring-up lock is taken', async (_h, root) => existsSync(root) && walk(root).some((f) => f.endsWith('.cni-up.lock'))],
    ['the bridge exists', async (h) => (await links(h)).some((l) => l.ifname !== 'lo')],
    ['the state file exists', async (_h, root) => stateFileOf(root, 'kc12') !== undefined],
  ]
  for (const [when, ready] of moments) {
    await t.test(`killed once ${when}`, async (t) => {
      const { host, stateRoot } = await hostFor(t, 'kc12')
      const c = await makeNs(t, 'kc-c')
      const conf = config(stateRoot, 'kc12', '192.0.2')
      const child = execa('nsenter', [`--net=${host.path}`, '--', PLUGIN], {
        env: { PATH: process.env.PATH ?? '', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'killed', CNI_NETNS: c.path, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
        extendEnv: false,
        input: JSON.stringify(conf),
        reject: false,
      })
      const hit = await waitFor(() => ready(host, stateRoot), 60_000, 2).then(() => true, () => false)
      child.kill('SIGKILL')
      await child
      t.ok(hit, `killed once ${when}`)
      const gc = await invokePlugin(host, { command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [] } })
      t.equal(gc.exitCode, 0, `GC after the kill: ${gc.stdout} ${gc.stderr}`)
      await assertNothingLeft(t, host, 'kc12', stateRoot)
      t.same(existsSync(stateRoot) ? walk(stateRoot) : [], [], 'no file left under the state root (no lock, no temp file)')
      t.same((await links(c)).map((l) => l.ifname), ['lo'], 'nothing left in the container')
    })
  }
  await t.test('killed, then ADD and DEL: they finish the bring-up', async (t) => {
    const { host, stateRoot } = await hostFor(t, 'kc12')
    const c = await makeNs(t, 'kc-c')
    const conf = config(stateRoot, 'kc12', '192.0.2')
    const child = execa('nsenter', [`--net=${host.path}`, '--', PLUGIN], {
      env: { PATH: process.env.PATH ?? '', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'killed', CNI_NETNS: c.path, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
      extendEnv: false,
      input: JSON.stringify(conf),
      reject: false,
    })
    await waitFor(async () => (await links(host)).some((l) => l.ifname !== 'lo'), 60_000, 2)
    child.kill('SIGKILL')
    await child
    t.equal((await invokePlugin(host, { command: 'DEL', config: conf, containerId: 'killed', netns: c.path, ifname: 'eth0' })).exitCode, 0, 'DEL of the killed ADD')
    const c2 = await makeNs(t, 'kc-c')
    const add = await invokePlugin(host, { command: 'ADD', config: conf, containerId: 'next', netns: c2.path, ifname: 'eth0' })
    t.equal(add.exitCode, 0, `a later ADD works: ${add.stderr}`)
    t.equal((await invokePlugin(host, { command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [] } })).exitCode, 0)
    await assertNothingLeft(t, host, 'kc12', stateRoot)
    t.same(existsSync(stateRoot) ? walk(stateRoot) : [], [], 'no file left under the state root')
  })
})

function walk(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...walk(p))
    else out.push(p)
  }
  return out
}

t.test('13: a 300-character container id, a second attachment of one container, a garbage prevResult', { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kc13')
  const conf = config(stateRoot, 'kc13', '203.0.113')
  const c = await makeNs(t, 'kc-c')
  const long = `a${'b'.repeat(299)}`
  const add = await invokePlugin(host, { command: 'ADD', config: conf, containerId: long, netns: c.path, ifname: 'eth0' })
  t.match(errorOf(t, add, [4]).details, /CNI_CONTAINERID/, 'a 300-character id: code 4, naming the variable')
  t.same((await links(c)).map((l) => l.ifname), ['lo'])
  const del = await invokePlugin(host, { command: 'DEL', config: conf, containerId: long, netns: c.path, ifname: 'eth0' })
  t.equal(del.exitCode, 0, `its DEL succeeds: ${del.stdout}`)

  const first = await invokePlugin(host, { command: 'ADD', config: conf, containerId: 'multi', netns: c.path, ifname: 'eth0' })
  t.equal(first.exitCode, 0, first.stderr)
  const second = await invokePlugin(host, { command: 'ADD', config: conf, containerId: 'multi', netns: c.path, ifname: 'eth1' })
  t.equal(second.exitCode, 0, `a second attachment of the same container: ${second.stdout}`)
  t.same((first.json as AddResult).routes, [{ dst: '0.0.0.0/0', gw: '203.0.113.1' }], 'the first attachment sets the default route')
  t.same((second.json as AddResult).routes ?? [], [], 'the second does not claim one')
  const routes = await c.run('ip', ['-4', 'route', 'show', 'default'])
  t.match(routes.trim(), /^default via 203\.0\.113\.1 dev eth0\b[^\n]*$/, 'one default route, through the first attachment')
  for (const ifname of ['eth0', 'eth1']) {
    const prevResult = ifname === 'eth0' ? first.json : second.json
    const check = await invokePlugin(host, { command: 'CHECK', config: { ...conf, prevResult }, containerId: 'multi', netns: c.path, ifname })
    t.equal(check.exitCode, 0, `CHECK ${ifname}: ${check.stdout}`)
  }

  const garbage: unknown[] = ['garbage', 42, { interfaces: 'x' }, { interfaces: [null] }, { ips: [{ address: 7 }] }, { routes: [1] }, { interfaces: [{ name: 'eth0' }], ips: [null] }]
  for (const prevResult of garbage) {
    // DEL does not rely on prevResult (it acts on its record only): a garbage one does not stop it.
    const del = await invokePlugin(host, { command: 'DEL', config: { ...conf, prevResult }, containerId: 'ghost', netns: c.path, ifname: 'eth0' })
    t.equal(del.exitCode, 0, `DEL with prevResult ${JSON.stringify(prevResult)}: ${del.stdout}`)
    for (const command of ['CHECK', 'ADD'] as const) {
      const r = await invokePlugin(host, { command, config: { ...conf, prevResult }, containerId: 'multi', netns: c.path, ifname: command === 'ADD' ? 'eth2' : 'eth0' })
      const e = errorOf(t, r, [7])
      t.match(e.details, /^prevResult/, `${command} with prevResult ${JSON.stringify(prevResult)}: the field is named`)
      t.notMatch(`${e.msg} ${e.details}`, /TypeError|is not a function|Cannot read properties|undefined/, 'no JavaScript error text')
    }
  }
  t.notOk(await link(c, 'eth2'), 'the ADDs with a garbage prevResult made nothing')
})

t.test("18: an operator's `up --prune` of the original spec keeps what the attachments hold (DNS record, reservation, forward)", { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kc18')
  const conf = config(stateRoot, 'kc18', '192.0.2', { network: { ...config(stateRoot, 'kc18', '192.0.2').network, dns: { domain: 'pods.test' } } })
  const c = await makeNs(t, 'kc-c')
  const add = await invokePlugin(host, { command: 'ADD', config: { ...conf, ...mapping(8080) }, containerId: 'dnspod', netns: c.path, ifname: 'eth0', args: 'K8S_POD_NAME=web' })
  t.equal(add.exitCode, 0, add.stderr)
  const ip = ipOf(add.json)
  const resolve = async () => (await host.run('dig', ['+short', '+time=2', '+tries=2', '@192.0.2.1', 'web.pods.test'])).trim()
  t.equal(await resolve(), ip, 'the pod name resolves')

  // The operator re-applies the spec the network was brought up from, pruning what was added at runtime.
  const { createNetwork } = await import('../../src/index.js')
  const op = createNetwork({ name: 'kc18', mode: 'nat', ipv4: { address: '192.0.2.1/24', dhcp: { range: ['192.0.2.10', '192.0.2.99'] } }, dns: { domain: 'pods.test' } }, { netns: host.name, stateRoot, dnsmasq: 'detached' })
  t.teardown(() => op.close())
  await op.up(undefined, { prune: true })
  const spec = await recordedSpec(host, 'kc18', stateRoot)
  t.same(spec?.dns?.hosts, [{ name: 'web', ip }], 'the DNS record is still in the recorded spec')
  t.same(spec?.ipv4.dhcp.hosts.map((h: { ip: string }) => h.ip), [ip], 'so is the reservation')
  t.same(await forwardsOf(host, 'kc18', stateRoot), [`tcp/8080->${ip}`], 'and the forward')
  t.equal(await resolve(), ip, 'the pod name still resolves after the prune')

  // Its DEL releases all of it.
  t.equal((await invokePlugin(host, { command: 'DEL', config: conf, containerId: 'dnspod', netns: c.path, ifname: 'eth0' })).exitCode, 0)
  const after = await recordedSpec(host, 'kc18', stateRoot)
  t.same([after?.dns?.hosts ?? [], after?.ipv4.dhcp.hosts ?? [], await forwardsOf(host, 'kc18', stateRoot)], [[], [], []], 'DEL releases the record, reservation and forward')
  t.equal(await resolve(), '', 'the name no longer resolves')
})
