/**
 * A pod storm: 20 ADDs at once through libcni on a network that is not up yet (they race to bring it up,
 * then queue on the network's lock for their addresses) all succeed with distinct addresses that reach
 * the gateway; and the sequential ADD latency of the plugin (direct invocations, network already up).
 * The figures are printed as comments (`# storm:` / `# latency:`).
 */
import t from 'tap'
import { join } from 'node:path'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { ping } from '../helpers/guest.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { buildRuntime, checkAddResult, downNetwork, invokePlugin, pluginDir, pluginMissing, recordedSpec, runtime, tempDir, writeConf } from '../helpers/cni-runtime/index.js'

const skip = pluginMissing() ?? false
const N = 20

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2
}

const network = (subnet: number) => ({ mode: 'nat', ipv4: { address: `10.233.${subnet}.1/24`, dhcp: { range: [`10.233.${subnet}.10`, `10.233.${subnet}.250`] } } })

t.test(`${N} concurrent ADDs through libcni into ${N} namespaces`, { skip }, async (t) => {
  const rt = await buildRuntime()
  const host = await makeNs(t, 'kvc6-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => downNetwork(host, 'kvc6storm', stateRoot))
  const dir = tempDir(t, 'kvmnet-cni-storm-')
  const conf = writeConf(dir, 'kvc6storm', { cniVersion: '1.0.0', name: 'kvc6storm', plugins: [{ type: 'kvmnet-cni', stateRoot, network: network(1) }] })
  const binDir = pluginDir(t)
  const cacheDir = join(dir, 'cache')
  const pods: TestNs[] = await Promise.all(Array.from({ length: N }, () => makeNs(t, 'kvc6-p')))
  const call = (op: 'add' | 'del', i: number) => runtime(host, rt, { op, conf, containerId: `storm-${i}`, netns: pods[i]!.path, ifname: 'eth0', binDir, cacheDir })

  const start = performance.now()
  const adds = await Promise.all(pods.map((_, i) => call('add', i)))
  const wall = performance.now() - start
  t.comment(`storm: ${N} concurrent ADDs (libcni, network brought up by the first) in ${wall.toFixed(0)} ms wall; per ADD median ${median(adds.map((a) => a.ms)).toFixed(0)} ms, max ${Math.max(...adds.map((a) => a.ms)).toFixed(0)} ms`)
  adds.forEach((a, i) => t.equal(a.exitCode, 0, `ADD ${i}: ${a.stderr.trim()}`))
  t.same(adds.flatMap((a) => checkAddResult(a.json, '1.0.0')), [], 'every result conforms')
  const ips = adds.map((a) => (a.json as { ips?: { address: string }[] } | undefined)?.ips?.[0]?.address)
  t.equal(new Set(ips).size, N, `${N} distinct addresses`)
  const pings = await Promise.all(pods.map((p) => ping(p, '10.233.1.1')))
  t.same(pings.map((ok, i) => (ok ? null : i)).filter((i) => i !== null), [], 'every pod pings the gateway')
  t.equal((await recordedSpec(host, 'kvc6storm', stateRoot))?.ipv4.dhcp.hosts.length, N, `${N} reservations`)

  const delStart = performance.now()
  const dels = await Promise.all(pods.map((_, i) => call('del', i)))
  t.comment(`storm: ${N} concurrent DELs in ${(performance.now() - delStart).toFixed(0)} ms wall`)
  dels.forEach((d, i) => t.equal(d.exitCode, 0, `DEL ${i}: ${d.stderr.trim()}`))
  t.same((await recordedSpec(host, 'kvc6storm', stateRoot))?.ipv4.dhcp.hosts, [], 'every reservation given back')
  await downNetwork(host, 'kvc6storm', stateRoot)
  await assertNothingLeft(t, host, 'kvc6storm', stateRoot)
})

t.test(`sequential ADD latency (${N} runs, direct invocations)`, { skip }, async (t) => {
  const host = await makeNs(t, 'kvc6-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => downNetwork(host, 'kvc6lat', stateRoot))
  const config = { cniVersion: '1.1.0', name: 'kvc6lat', type: 'kvmnet-cni', stateRoot, network: network(2) }
  const pods: TestNs[] = await Promise.all(Array.from({ length: N + 1 }, () => makeNs(t, 'kvc6-p')))
  const add = (i: number) => invokePlugin(host, { command: 'ADD', config, containerId: `lat-${i}`, netns: pods[i]!.path, ifname: 'eth0' })
  const first = await add(N)
  t.equal(first.exitCode, 0, first.stderr)
  const times: number[] = []
  for (let i = 0; i < N; i++) {
    const r = await add(i)
    t.equal(r.exitCode, 0, r.stderr)
    times.push(r.ms)
  }
  const dels: number[] = []
  for (let i = 0; i < N; i++) {
    const r = await invokePlugin(host, { command: 'DEL', config, containerId: `lat-${i}`, netns: pods[i]!.path, ifname: 'eth0' })
    t.equal(r.exitCode, 0, r.stderr)
    dels.push(r.ms)
  }
  const v = await invokePlugin(host, { command: 'VERSION', config: { cniVersion: '1.1.0' } })
  t.comment(`latency: first ADD (brings the network up) ${first.ms.toFixed(0)} ms; ADD median ${median(times).toFixed(0)} ms (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}); DEL median ${median(dels).toFixed(0)} ms; VERSION ${v.ms.toFixed(0)} ms`)
})
