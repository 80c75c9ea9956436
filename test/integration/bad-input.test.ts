/**
 * The bad-input catalogue, end to end: every spec of test/helpers/bad-specs.ts, and the cases only the
 * kernel can judge (a port or bridge named like a link that exists and is not the network's, another
 * network's port or forward, a macvtap parent that is not an Ethernet NIC), given to `up` in a namespace
 * that already holds foreign links and another kvmnet network. Each must be refused with the field named
 * as the user wrote it — a SpecError from the library, exit 2 and that field in the CLI's --json error —
 * before anything is touched: no apply step runs, and the namespace's links, nft tables and the state
 * root are exactly as before.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, SpecError, type NetworkSpec, type StepEvent } from '../../src/index.js'
import { badSpecs } from '../helpers/bad-specs.js'
import { links } from '../helpers/ip.js'
import { makeNs, type TestNs } from '../helpers/ns.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const cliJs = join(repo, 'dist/cli.js')

t.before(() => {
  if (!existsSync(cliJs)) throw new Error('dist/cli.js is missing: run npm run build first')
})

/** Everything under a directory, as relative paths (directories end in '/'). */
function tree(dir: string, rel = ''): string[] {
  if (!existsSync(join(dir, rel))) return []
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = join(rel, e.name)
    return e.isDirectory() ? [`${p}/`, ...tree(dir, p)] : [p]
  })
}

interface Snapshot {
  links: string[]
  tables: string
  files: string[]
}

async function snapshot(ns: TestNs, stateRoot: string): Promise<Snapshot> {
  const ls = (await links(ns)).map((l) => `${l.ifname} ${l.ifalias ?? ''} ${l.master ?? ''} ${l.flags.includes('UP') ? 'up' : 'down'}`).sort()
  return { links: ls, tables: await ns.run('nft', ['list', 'tables']), files: tree(stateRoot).sort() }
}

/** Fixtures the kernel cases run against: foreign links, a tun (not Ethernet), another kvmnet network (this kernel has no dummy links: a veth stands in). */
async function hostWithNeighbours(t: Test): Promise<{ host: TestNs; stateRoot: string }> {
  const host = await makeNs(t, 'kib')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  await host.ip(['link add ki-foreign type veth peer name ki-foreign-p', 'link add ki-fbr type bridge', 'tuntap add dev ki-tun0 mode tun', 'link set ki-foreign up'].join('\n'))
  const other = createNetwork(
    { name: 'other', mode: 'nat', ipv4: { address: '198.51.100.1/24' }, dns: { enabled: false }, forwards: [{ proto: 'tcp', hostPort: 8080, guest: '198.51.100.10' }], ports: [{ name: 'oth-p0' }] },
    { netns: host.name, stateRoot },
  )
  t.teardown(() => other.down().catch(() => undefined))
  await other.up()
  other.close()
  return { host, stateRoot }
}

const kernelCases: [string, unknown, string][] = [
  ['a port named like a foreign veth', { name: 'k1', mode: 'very-isolated', ports: [{ name: 'ki-foreign' }] }, 'ports[0].name'],
  ['the second port named like a foreign bridge', { name: 'k1', mode: 'very-isolated', ports: [{ name: 'k1-ok' }, { name: 'ki-fbr' }] }, 'ports[1].name'],
  ['a port named lo', { name: 'k1', mode: 'isolated', ports: [{ name: 'lo' }] }, 'ports[0].name'],
  ["a port named like another network's port", { name: 'k1', mode: 'very-isolated', ports: [{ name: 'oth-p0' }] }, 'ports[0].name'],
  ["a port named like another network's bridge", { name: 'k1', mode: 'very-isolated', ports: [{ name: 'kvbr-other' }] }, 'ports[0].name'],
  ['a port named like a tun', { name: 'k1', mode: 'nat', ipv4: { address: '192.0.2.1/24' }, ports: [{ name: 'ki-tun0' }] }, 'ports[0].name'],
  ['a bridge named like a foreign veth', { name: 'k1', mode: 'very-isolated', bridge: 'ki-foreign' }, 'bridge'],
  ['a bridge named like a foreign bridge', { name: 'k1', mode: 'isolated', bridge: 'ki-fbr', ipv4: { address: '192.0.2.1/24' } }, 'bridge'],
  ["a bridge named like another network's bridge", { name: 'k1', mode: 'very-isolated', bridge: 'kvbr-other' }, 'bridge'],
  ["a bridge named like another network's port", { name: 'k1', mode: 'very-isolated', bridge: 'oth-p0' }, 'bridge'],
  ['a bridge named lo', { name: 'k1', mode: 'very-isolated', bridge: 'lo' }, 'bridge'],
  ['macvtap on a tun (not Ethernet)', { name: 'k1', mode: 'macvtap', interface: 'ki-tun0', ports: [{ name: 'k1-mv0' }] }, 'interface'],
  ['macvtap on a bridge', { name: 'k1', mode: 'macvtap', interface: 'ki-fbr', ports: [{ name: 'k1-mv0' }] }, 'interface'],
  ['macvtap on a missing NIC', { name: 'k1', mode: 'macvtap', interface: 'ki-nope', ports: [{ name: 'k1-mv0' }] }, 'interface'],
  ['a macvtap port named like a foreign bridge', { name: 'k1', mode: 'macvtap', interface: 'ki-foreign', ports: [{ name: 'ki-fbr' }] }, 'ports[0].name'],
  ["a macvtap port named like another network's port", { name: 'k1', mode: 'macvtap', interface: 'ki-foreign', ports: [{ name: 'k1-mv0' }, { name: 'oth-p0' }] }, 'ports[1].name'],
  ['a bridge network on a tun', { name: 'k1', mode: 'bridge', interface: 'ki-tun0' }, 'interface'],
  ['a bridge network on a missing NIC', { name: 'k1', mode: 'bridge', interface: 'ki-nope' }, 'interface'],
  ['a missing uplink', { name: 'k1', mode: 'nat', ipv4: { address: '192.0.2.1/24' }, uplink: 'ki-nope' }, 'uplink'],
  ["a forward another network has", { name: 'k1', mode: 'nat', ipv4: { address: '192.0.2.1/24' }, forwards: [{ proto: 'tcp', hostPort: [8000, 8100], guest: '192.0.2.10' }] }, 'forwards[0].hostPort'],
  ["a subnet another network routes", { name: 'k1', mode: 'isolated', ipv4: { address: '198.51.100.7/24' } }, 'ipv4.address'],
  ['a vxlan underlay that is missing', { name: 'k1', mode: 'very-isolated', vxlan: { vni: 7, underlay: 'ki-nope', peers: ['203.0.113.2'] } }, 'vxlan.underlay'],
  ['a vxlan local address the host does not have', { name: 'k1', mode: 'very-isolated', vxlan: { vni: 7, local: '203.0.113.9', peers: ['203.0.113.2'] } }, 'vxlan.local'],
]

/** Up through the library: the error, and the apply steps that ran before it. */
async function upLibrary(host: TestNs, stateRoot: string, spec: unknown): Promise<{ err: unknown; steps: string[] }> {
  const steps: string[] = []
  const onStep = (e: StepEvent) => {
    if (e.phase === 'apply') steps.push(`${e.step}(${e.category})`)
  }
  const err = await Promise.resolve()
    .then(() => createNetwork(spec as NetworkSpec, { netns: host.name, stateRoot, onStep }).up())
    .then(
      () => undefined,
      (e: unknown) => e,
    )
  return { err, steps }
}

/** Up through the CLI (the built one), `--json`: exit code and the error's field. */
async function upCli(host: TestNs, stateRoot: string, spec: unknown): Promise<{ exitCode: number | undefined; field: unknown; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-bad-'))
  try {
    const file = join(dir, 'spec.json')
    writeFileSync(file, JSON.stringify(spec))
    const r = await execa('node', [cliJs, 'up', file, '--netns', host.name, '--state-root', stateRoot, '--json'], { reject: false, timeout: 60_000 })
    let field: unknown
    try {
      field = (JSON.parse(r.stderr) as { error?: { field?: unknown } }).error?.field
    } catch {
      field = undefined
    }
    return { exitCode: r.exitCode, field, stderr: r.stderr }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Run `fn` over `items`, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn))
}

async function refusedUntouched(t: Test, host: TestNs, stateRoot: string, cases: [string, unknown, string][]): Promise<void> {
  const before = await snapshot(host, stateRoot)
  // The library, one case at a time: what each leaves behind is its own.
  for (const [what, spec, field] of cases) {
    const lib = await upLibrary(host, stateRoot, spec)
    t.type(lib.err, SpecError, `${what}: refused with a SpecError (${lib.err instanceof Error ? lib.err.message : 'accepted'})`)
    t.equal((lib.err as SpecError | undefined)?.field, field, `${what}: names ${field}`)
    t.same(lib.steps, [], `${what}: refused before any step`)
    t.same(await snapshot(host, stateRoot), before, `${what}: no link, nft table or state file left behind`)
  }
  // The CLI, a few at a time (a process start each); then the namespace and state root once more.
  await inBatches(cases, 4, async ([what, spec, field]) => {
    const cli = await upCli(host, stateRoot, spec)
    t.equal(cli.exitCode, 2, `${what}: the CLI exits 2 (${cli.stderr.trim()})`)
    t.equal(cli.field, field, `${what}: the CLI's error names ${field}`)
  })
  t.same(await snapshot(host, stateRoot), before, 'the CLI left no link, nft table or state file behind')
}

t.test(`the catalogue: ${badSpecs.length} specs refused by validation, through up`, async (t) => {
  const { host, stateRoot } = await hostWithNeighbours(t)
  await refusedUntouched(t, host, stateRoot, badSpecs)
})

t.test(`${kernelCases.length} specs only the namespace can refuse, refused before the first change`, async (t) => {
  const { host, stateRoot } = await hostWithNeighbours(t)
  // A name of its own for each: the CLI runs a few at once, and one network's lock would make another busy.
  const named = kernelCases.map(([what, spec, field], i): [string, unknown, string] => [what, { ...(spec as object), name: `k${i + 1}` }, field])
  await refusedUntouched(t, host, stateRoot, named)
})

t.test('a NAME that is not a network name: exit 2 from every command that takes one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-bad-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stateRoot = join(dir, 'state')
  for (const args of [['status', '..'], ['status', '../x'], ['status', 'a/b', '--json'], ['down', '..'], ['leases', '..'], ['port', 'add', '..', 'p0']]) {
    const r = await execa('node', [cliJs, ...args, '--state-root', stateRoot], { reject: false })
    t.equal(r.exitCode, 2, `kvmnet ${args.join(' ')}: exit 2 (${r.stderr.trim()})`)
    t.match(r.stderr, /NAME/, 'names NAME')
  }
  t.notOk(existsSync(stateRoot), 'nothing under the state root')
})
