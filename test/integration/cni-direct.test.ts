/**
 * kvmnet-cni invoked directly, as a CNI 1.1 runtime does (environment + configuration on stdin), with
 * every output checked against the spec's result types: VERSION, ADD's 1.1.0 result, CHECK, the error
 * codes (nothing is touched before a configuration is refused), STATUS (ready / 51 with dnsmasq dead /
 * 50 with the range exhausted) and GC (stale attachments released; the network down when none is left).
 */
import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { link, links } from '../helpers/ip.js'
import { ping } from '../helpers/guest.js'
import { assertNothingLeft, processesIn, stateFileOf } from '../helpers/leftovers.js'
import { checkAddResult, checkErrorResult, checkVersionResult, downNetwork, invokePlugin, pluginMissing, recordedSpec, type PluginCall } from '../helpers/cni-runtime/index.js'

const skip = pluginMissing() ?? false

function config(stateRoot: string, name: string, subnet: number, more: Record<string, unknown> = {}, range = ['10', '99']) {
  return {
    cniVersion: '1.1.0',
    name,
    type: 'kvmnet-cni',
    stateRoot,
    network: { mode: 'nat', ipv4: { address: `10.232.${subnet}.1/24`, dhcp: { range: [`10.232.${subnet}.${range[0]}`, `10.232.${subnet}.${range[1]}`] } } },
    ...more,
  }
}

async function hostFor(t: Test, name: string): Promise<{ host: TestNs; stateRoot: string }> {
  const host = await makeNs(t, 'kvc6-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => downNetwork(host, name, stateRoot))
  return { host, stateRoot }
}

function errorOf(t: Test, r: { exitCode: number; json: unknown; stderr: string }, code: number, version = '1.1.0'): Record<string, unknown> {
  t.not(r.exitCode, 0, 'non-zero exit')
  t.same(checkErrorResult(r.json, version), [], 'a CNI error result on stdout')
  t.equal((r.json as { code?: number })?.code, code, `code ${code}: ${r.stderr.trim()}`)
  return r.json as Record<string, unknown>
}

t.test('VERSION', { skip }, async (t) => {
  const host = await makeNs(t, 'kvc6-host')
  for (const v of ['1.1.0', '1.0.0']) {
    const r = await invokePlugin(host, { command: 'VERSION', config: { cniVersion: v } })
    t.equal(r.exitCode, 0)
    t.same(checkVersionResult(r.json, v), [], `VERSION answer conforms (input ${v})`)
    t.same((r.json as { supportedVersions: string[] }).supportedVersions, ['1.0.0', '1.1.0'])
  }
})

t.test('bad input: error codes, and nothing is touched', { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kvc6bad')
  const c = await makeNs(t, 'kvc6-c')
  const good = config(stateRoot, 'kvc6bad', 9)
  const attach = { containerId: 'bad1', netns: c.path, ifname: 'eth0' }
  const run = (call: Partial<PluginCall>) => invokePlugin(host, { command: 'ADD', config: good, ...attach, ...call })

  errorOf(t, await run({ env: { CNI_COMMAND: undefined } }), 4)
  errorOf(t, await run({ command: 'FROB' as never }), 4)
  t.match(errorOf(t, await run({ netns: undefined }), 4).details, /CNI_NETNS/, 'names the variable')
  t.match(errorOf(t, await run({ ifname: 'bad/name' }), 4).details, /CNI_IFNAME/)
  t.match(errorOf(t, await run({ containerId: '-x' }), 4).details, /CNI_CONTAINERID/)
  errorOf(t, await run({ config: '{"cniVersion": "1.1.0",' }), 6)
  t.match(errorOf(t, await run({ config: { ...good, cniVersion: '0.4.0' } }), 1).details, /1\.0\.0, 1\.1\.0/)
  const range = errorOf(t, await run({ config: config(stateRoot, 'kvc6bad', 9, {}, ['10', '300']) }), 7)
  t.match(range.details, /^network\.ipv4\.dhcp\.range\[1\]: /, 'the field as written in the configuration')
  t.match(errorOf(t, await run({ config: { ...good, network: { mode: 'very-isolated' } } }), 7).details, /^network\.mode: /)
  const iso = { ...good, network: { mode: 'isolated', ipv4: { address: '10.232.9.1/24', dhcp: { range: ['10.232.9.10', '10.232.9.20'] } } }, runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 80 }] } }
  t.match(errorOf(t, await run({ config: iso }), 7).details, /^runtimeConfig\.portMappings: .*nat/)
  t.match(errorOf(t, await run({ config: { ...good, runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } } }), 7).details, /portMappings\[0\]\.hostPort/)
  t.match(errorOf(t, await run({ config: { ...good, name: 'has.dot' } }), 7).details, /^network\.name: .*defaulted from the CNI network name/)
  errorOf(t, await run({ config: { ...good, attachment: 'macvtap' } }), 7)
  errorOf(t, await run({ netns: '/run/netns/kvc6-no-such-ns' }), 3)
  errorOf(t, await run({ command: 'GC', config: good }), 7)
  errorOf(t, await run({ command: 'STATUS', config: { ...good, cniVersion: '1.0.0' } }), 1, '1.0.0')
  t.notOk(stateFileOf(stateRoot, 'kvc6bad'), 'no network was brought up')
  t.same((await links(host)).map((l) => l.ifname), ['lo'], 'no link was made')
  t.same((await links(c)).map((l) => l.ifname), ['lo'])
})

t.test('ADD (1.1.0 result), CHECK, STATUS with dnsmasq dead, GC', { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kvc6gc')
  const conf = config(stateRoot, 'kvc6gc', 3, { network: { ...config(stateRoot, 'kvc6gc', 3).network, mtu: 1400 } })
  const st0 = await invokePlugin(host, { command: 'STATUS', config: conf })
  t.equal(st0.exitCode, 0, `STATUS before the first ADD: ready (ADD brings the network up) ${st0.stdout}`)
  t.equal(st0.stdout, '', 'no output on success')

  const ns: TestNs[] = [await makeNs(t, 'kvc6-c'), await makeNs(t, 'kvc6-c')]
  const results = []
  for (const [i, c] of ns.entries()) {
    const r = await invokePlugin(host, { command: 'ADD', config: conf, containerId: `gc${i}`, netns: c.path, ifname: 'eth0' })
    t.equal(r.exitCode, 0, r.stderr)
    t.same(checkAddResult(r.json, '1.1.0'), [], 'the ADD result conforms to CNI 1.1.0')
    results.push(r.json as { interfaces: { name: string; mtu?: number }[]; ips: { address: string }[] })
  }
  t.equal(results[0]?.interfaces[1]?.mtu, 1400, '1.1.0: the interface MTU (the spec\'s)')
  t.equal((await link(ns[0]!, 'eth0'))?.mtu, 1400)
  t.not(results[0]?.ips[0]?.address, results[1]?.ips[0]?.address, 'two attachments, two addresses')

  const check = await invokePlugin(host, { command: 'CHECK', config: { ...conf, prevResult: results[0] }, containerId: 'gc0', netns: ns[0]!.path, ifname: 'eth0' })
  t.equal(check.exitCode, 0, `CHECK: ${check.stdout}`)
  errorOf(t, await invokePlugin(host, { command: 'CHECK', config: conf, containerId: 'gc0', netns: ns[0]!.path, ifname: 'eth0' }), 7)
  t.equal((await invokePlugin(host, { command: 'STATUS', config: conf })).exitCode, 0, 'STATUS: ready')

  // dnsmasq dies: existing containers lose DNS and DHCP renewals.
  const pidFile = stateFileOf(stateRoot, 'kvc6gc')!.replace(/network\.json$/, 'dnsmasq/dnsmasq.pid')
  const pid = Number(readFileSync(pidFile, 'utf8').trim())
  t.same(processesIn(host.path, 'dnsmasq'), [pid])
  process.kill(pid, 'SIGKILL')
  await waitFor(() => processesIn(host.path, 'dnsmasq').length === 0)
  const st = errorOf(t, await invokePlugin(host, { command: 'STATUS', config: conf }), 51)
  t.match(st.details, /dnsmasq not running/)
  errorOf(t, await invokePlugin(host, { command: 'CHECK', config: { ...conf, prevResult: results[0] }, containerId: 'gc0', netns: ns[0]!.path, ifname: 'eth0' }), 105)
  // The next ADD converges the network, dnsmasq included.
  const c2 = await makeNs(t, 'kvc6-c')
  const add2 = await invokePlugin(host, { command: 'ADD', config: conf, containerId: 'gc2', netns: c2.path, ifname: 'eth0' })
  t.equal(add2.exitCode, 0, add2.stderr)
  t.equal((await invokePlugin(host, { command: 'STATUS', config: conf })).exitCode, 0, 'STATUS: ready again after an ADD')

  // GC: gc0 stays valid; gc1 and gc2 are not.
  const gc = await invokePlugin(host, { command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'gc0', ifname: 'eth0' }] } })
  t.equal(gc.exitCode, 0, `GC: ${gc.stdout}`)
  t.equal(gc.stdout, '', 'no output on success')
  t.notOk(await link(ns[1]!, 'eth0'), 'a stale attachment is removed')
  t.notOk(await link(c2, 'eth0'))
  const tagged = (await links(host)).filter((l) => l.ifalias?.includes(':cni/')).map((l) => l.ifalias)
  t.same(tagged, [(await link(host, results[0]!.interfaces[0]!.name))?.ifalias], 'only the valid attachment keeps its host end')
  const spec = await recordedSpec(host, 'kvc6gc', stateRoot)
  t.same(spec?.ipv4.dhcp.hosts.map((h: { ip: string }) => `${h.ip}/24`), [results[0]?.ips[0]?.address], 'only its reservation is left')
  t.ok(await ping(ns[0]!, '10.232.3.1'), 'the valid attachment still works')
  // The host end is a bridge port: with the container end up (carrier) it still has no host IPv6 address.
  const hostEnd = results[0]!.interfaces[0]!.name
  const detail = (JSON.parse(await host.run('ip', ['-j', '-d', 'link', 'show', hostEnd])) as { inet6_addr_gen_mode?: string; operstate?: string }[])[0]
  t.match(detail, { inet6_addr_gen_mode: 'none', operstate: 'UP' }, 'the host end was made with addrgenmode none, and has carrier')
  t.equal(await host.run('ip', ['-6', 'addr', 'show', 'dev', hostEnd]), '', 'and no IPv6 address')

  const gcAll = await invokePlugin(host, { command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [] } })
  t.equal(gcAll.exitCode, 0, gcAll.stdout)
  t.notOk(await link(ns[0]!, 'eth0'))
  await assertNothingLeft(t, host, 'kvc6gc', stateRoot)
  t.notOk(existsSync(`${stateRoot}`) && stateFileOf(stateRoot, 'kvc6gc'), 'no attachment left: the network kvmnet-cni brought up is down')
})

t.test('an exhausted range: ADD fails with 102, STATUS says 50', { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kvc6full')
  const conf = config(stateRoot, 'kvc6full', 4, {}, ['10', '11'])
  for (const i of [0, 1]) {
    const c = await makeNs(t, 'kvc6-c')
    t.equal((await invokePlugin(host, { command: 'ADD', config: conf, containerId: `full${i}`, netns: c.path, ifname: 'eth0' })).exitCode, 0)
  }
  const c = await makeNs(t, 'kvc6-c')
  errorOf(t, await invokePlugin(host, { command: 'ADD', config: conf, containerId: 'full2', netns: c.path, ifname: 'eth0' }), 102)
  t.same((await links(c)).map((l) => l.ifname), ['lo'], 'the failed ADD left nothing in the container')
  t.same((await links(host)).filter((l) => l.ifalias?.includes('cni/full2/')), [], 'nor on the host')
  t.notOk(existsSync(stateFileOf(stateRoot, 'kvc6full')!.replace(/network\.json$/, 'cni/full2:eth0.json')), 'nor a record of it')
  errorOf(t, await invokePlugin(host, { command: 'STATUS', config: conf }), 50)
  const del = await invokePlugin(host, { command: 'DEL', config: conf, containerId: 'full2', netns: c.path, ifname: 'eth0' })
  t.equal(del.exitCode, 0, 'DEL after the failed ADD (runtimes call it) succeeds')
})

t.test('several DHCP ranges: addresses come from the first, then the next; STATUS says 50 once all are taken', { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kvc6rng')
  const conf = { ...config(stateRoot, 'kvc6rng', 5), network: { mode: 'nat', ipv4: { address: '10.232.5.1/24', dhcp: { ranges: [{ start: '10.232.5.40', end: '10.232.5.40' }, { start: '10.232.5.20', end: '10.232.5.20' }] } } } }
  const got: string[] = []
  for (const i of [0, 1]) {
    const c = await makeNs(t, 'kvc6-c')
    const r = await invokePlugin(host, { command: 'ADD', config: conf, containerId: `rng${i}`, netns: c.path, ifname: 'eth0' })
    t.equal(r.exitCode, 0, r.stderr)
    got.push(String((r.json as { ips?: Array<{ address?: string }> })?.ips?.[0]?.address))
  }
  t.same(got, ['10.232.5.40/24', '10.232.5.20/24'], 'one address from each range, in the order of the spec')
  errorOf(t, await invokePlugin(host, { command: 'STATUS', config: conf }), 50)
})

t.test("kvmnet down takes the attachments' links with it (their alias is the network's)", { skip }, async (t) => {
  const { host, stateRoot } = await hostFor(t, 'kvc6down')
  const conf = config(stateRoot, 'kvc6down', 5)
  const pods = [await makeNs(t, 'kvc6-c'), await makeNs(t, 'kvc6-c')]
  for (const [i, c] of pods.entries()) t.equal((await invokePlugin(host, { command: 'ADD', config: conf, containerId: `down${i}`, netns: c.path, ifname: 'eth0' })).exitCode, 0)
  t.equal((await links(host)).filter((l) => l.ifalias?.includes(':cni/')).length, 2)
  await downNetwork(host, 'kvc6down', stateRoot)
  await assertNothingLeft(t, host, 'kvc6down', stateRoot)
  for (const c of pods) t.notOk(await link(c, 'eth0'), "the container end went with its host end")
  const del = await invokePlugin(host, { command: 'DEL', config: conf, containerId: 'down0', netns: pods[0]!.path, ifname: 'eth0' })
  t.equal(del.exitCode, 0, 'a DEL after the network went down succeeds')
})
