/**
 * The kvmnet command: up/status/ports/leases/down with a JSON spec, one-line errors, and gc after a
 * killed `up --foreground`.
 */
import t from 'tap'
import { execa } from 'execa'
import { writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs, waitFor } from '../helpers/ns.js'
import { assertNothingLeft, processesIn, stateFileOf } from '../helpers/leftovers.js'
import { link, linkNames } from '../helpers/ip.js'
import { scratchDir } from '../helpers/scratch.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cliArgs = ['--import', 'tsx', join(root, 'src/cli/main.ts')]

function kvmnet(args: string[], opts: { reject?: boolean } = {}) {
  return execa('node', [...cliArgs, ...args], { reject: opts.reject ?? true, cwd: root, timeout: 60_000 })
}

function specFile(spec: unknown): string {
  const p = join(scratchDir('kvmnet-cli-'), 'spec.json')
  writeFileSync(p, JSON.stringify(spec))
  return p
}

t.test('up, status, ports, leases, down', async (t) => {
  const ns = await makeNs(t, 'kvn')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const common = ['--netns', ns.name, '--state-root', stateRoot]
  const spec = specFile({
    name: 'clinet',
    mode: 'nat',
    ipv4: { address: '10.240.0.1/24', dhcp: { range: ['10.240.0.10', '10.240.0.20'] } },
    ports: [{ name: 'cli-p0' }],
  })
  t.teardown(() => kvmnet(['down', 'clinet', ...common], { reject: false }))
  const up = await kvmnet(['up', spec, ...common, '--timings'])
  t.match(up.stdout, /clinet: up in/)
  t.match(up.stdout, /nft/, 'timings table printed')
  const status = JSON.parse((await kvmnet(['status', 'clinet', '--json', ...common])).stdout)
  t.equal(status.up, true, `status up (${status.problems})`)
  t.equal(status.dnsmasq.detached, true, 'dnsmasq detached after up')
  t.ok(status.dnsmasq.pid > 0)
  t.ok(status.lastApply.steps.some((s: { category: string }) => s.category === 'nft'), 'status --json carries the last apply timings')
  const table = (await kvmnet(['status', ...common])).stdout
  t.match(table, /^NAME\s+MODE\s+STATE/, 'space-aligned columns, headers in capitals')
  t.match(table, /\nclinet\s+nat\s+up\s/)
  t.notMatch(table, /\|/, 'no borders')
  t.match((await kvmnet(['ports', 'clinet', ...common])).stdout, /cli-p0\s+tap\s+52:54:00/)
  t.match((await kvmnet(['leases', 'clinet', ...common])).stdout, /MAC/)
  const down = await kvmnet(['down', 'clinet', ...common])
  t.match(down.stdout, /clinet: down in/)
  await assertNothingLeft(t, ns, 'clinet')
})

t.test('errors print one line and exit non-zero', async (t) => {
  const bad = specFile({ name: 'x', mode: 'nat', ipv4: { address: '10.0.0.1/24' }, forwards: [{ proto: 'tcp', hostPort: 70000, guest: '10.0.0.2' }] })
  const r = await kvmnet(['up', bad], { reject: false })
  t.equal(r.exitCode, 2)
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  t.match(r.stderr, /^kvmnet: forwards\[0\]\.hostPort: /)
  const missing = await kvmnet(['down', 'no-such-net', '--state-root', '/run/kvmnet-test/none'], { reject: false })
  t.equal(missing.exitCode, 0, 'down of a network that is not there is not an error (idempotent)')
  t.match(missing.stdout, /no network no-such-net .*nothing to do/)
  const unknown = await kvmnet(['frobnicate'], { reject: false })
  t.equal(unknown.exitCode, 2)
})

t.test('gc removes what a killed `up --foreground` left', async (t) => {
  const ns = await makeNs(t, 'kvn')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const common = ['--netns', ns.name, '--state-root', stateRoot]
  const spec = specFile({
    name: 'crash',
    mode: 'nat',
    ipv4: { address: '10.241.0.1/24', dhcp: { range: ['10.241.0.10', '10.241.0.20'] } },
    ports: [{ name: 'crash-p0' }],
  })
  const fg = execa('node', [...cliArgs, 'up', spec, '--foreground', ...common], { reject: false, cwd: root })
  t.teardown(() => {
    fg.kill('SIGKILL')
  })
  // Killed once up has finished (it printed the ports): the state file and dnsmasq come before the ports.
  let printed = ''
  fg.stdout?.on('data', (d: Buffer) => (printed += d.toString()))
  await waitFor(async () => stateFileOf(stateRoot, 'crash') !== undefined && processesIn(ns.path, 'dnsmasq').length > 0 && /crash-p0/.test(printed), 30_000, 50)
  fg.kill('SIGKILL')
  await fg
  // The supervised dnsmasq dies with its parent; the links and rules stay until gc.
  await waitFor(() => processesIn(ns.path, 'dnsmasq').length === 0, 5000)
  t.ok((await linkNames(ns)).includes('crash-p0'), 'links left by the killed process')
  const gc = await kvmnet(['gc', ...common])
  t.match(gc.stdout, /networks taken down: crash/)
  await assertNothingLeft(t, ns, 'crash')
  t.notOk((await linkNames(ns)).some((n) => n === 'crash-p0' || n === 'kvbr-crash'))
})

t.test('up --foreground tears down on SIGTERM', async (t) => {
  const ns = await makeNs(t, 'kvn')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const spec = specFile({ name: 'fg', mode: 'isolated', ipv4: { address: '10.242.0.1/24' } })
  const fg = execa('node', [...cliArgs, 'up', spec, '--foreground', '--netns', ns.name, '--state-root', stateRoot], { reject: false, cwd: root })
  // Mid-apply or after it, a SIGTERM must end in a clean teardown; here it comes once the state exists.
  await waitFor(() => stateFileOf(stateRoot, 'fg') !== undefined, 30_000, 50)
  fg.kill('SIGTERM')
  const r = await fg
  t.equal(r.exitCode, 0)
  t.match(r.stdout, /fg: down \(SIGTERM\)/)
  await assertNothingLeft(t, ns, 'fg')
})

t.test('the CLI drives every mode from a JSON spec', async (t) => {
  const ns = await makeNs(t, 'kvn')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const common = ['--netns', ns.name, '--state-root', stateRoot]
  // Two NICs for the bridge and macvtap kinds: veth ends whose peers stay in the same namespace.
  await ns.ip('link add nic0 type veth peer name nic0-peer\nlink add nic1 type veth peer name nic1-peer\nlink set nic0 up\nlink set nic1 up\nlink set nic0-peer up\nlink set nic1-peer up')
  const specs = [
    { name: 'm-nat', mode: 'nat', ipv4: { address: '10.243.1.1/24', dhcp: { range: ['10.243.1.10', '10.243.1.20'] } }, forwards: [{ proto: 'tcp', hostPort: 2222, guest: '10.243.1.10', guestPort: 22 }], ports: [{ name: 'm-nat0' }] },
    { name: 'm-iso', mode: 'isolated', ipv4: { address: '10.243.2.1/24' }, ports: [{ name: 'm-iso0' }] },
    { name: 'm-vi', mode: 'very-isolated', ports: [{ name: 'm-vi0' }] },
    { name: 'm-br', mode: 'bridge', interface: 'nic0', ports: [{ name: 'm-br0' }] },
    { name: 'm-mvt', mode: 'macvtap', interface: 'nic1', hostAccess: true, ipv4: { address: '10.243.5.2/24' }, ports: [{ name: 'm-mvt0' }] },
  ]
  for (const spec of specs) {
    t.teardown(() => kvmnet(['down', spec.name, ...common], { reject: false }))
    await kvmnet(['up', specFile(spec), ...common])
  }
  const all = JSON.parse((await kvmnet(['status', '--json', ...common])).stdout) as { name: string; mode: string; up: boolean; problems: string[] }[]
  t.same(all.map((s) => [s.name, s.mode, s.up]).sort(), specs.map((s) => [s.name, s.mode, true]).sort(), 'every mode is up')
  const ports = JSON.parse((await kvmnet(['ports', 'm-mvt', '--json', ...common])).stdout) as { tapDevice?: string }[]
  t.match(ports[0]?.tapDevice, /^\/dev\/tap\d+$/, 'macvtap port reports /dev/tapN')
  for (const spec of specs) await kvmnet(['down', spec.name, ...common])
  for (const spec of specs) await assertNothingLeft(t, ns, spec.name)
  t.equal((await link(ns, 'nic0'))?.master, undefined, 'bridged NIC released')
})
