/**
 * Property test of the files kvmnet reads back: a network's state (network.json) and the namespace's
 * sysctl ledger (sysctls.json). Truncated, garbage, huge and wrong-shaped files give a StateError naming
 * the file — never an untyped error, and never "no network" (gc would take a live network for gone) nor
 * a ledger entry silently dropped (its sysctl would never be put back).
 * Reproduce a failure: KVMNET_FUZZ_SEED=<seed from the test name> npx tap test/unit/fuzz-state.test.ts
 */
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StateError } from '../../src/errors.js'
import { listStates, readStateSync } from '../../src/network/state.js'
import { claimedSysctls } from '../../src/network/sysctl-ledger.js'
import { isolatedState } from '../helpers/state-fixture.js'
import { Rng, fuzzSeed, mutate, show, thrown } from '../helpers/fuzz.js'

const seed = fuzzSeed()
const ITERATIONS = Number(process.env.KVMNET_FUZZ_ITERATIONS ?? 600)

const root = mkdtempSync(join(tmpdir(), 'k13fz-state-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))

const full = {
  ...isolatedState('lab', '10.0.0.1/24'),
  netnsName: 'k13fz',
  sysctls: [{ key: 'net/ipv4/ip_forward', before: '0' }],
  dnsmasq: { stateDir: '/run/kvmnet/x/lab/dnsmasq', detached: false, ifindex: 7 },
  nftHash: 'abc',
  owner: { pid: 1234, startTime: '999' },
  runtime: { ports: ['p0'], forwards: ['tcp/80'], reservations: ['52:54:00:00:00:01'], peers: [], held: { reservations: [], forwards: [], dnsHosts: ['a=10.0.0.2'] } },
  applying: { pid: 1234, startTime: '999', since: '2026-01-01T00:00:00.000Z' },
}

/** Garbage of several kinds, from the valid text: cut short, bytes flipped, noise, huge, other JSON. */
function corrupt(rng: Rng, text: string): string | Buffer {
  switch (rng.int(8)) {
    case 0:
      return text.slice(0, rng.int(text.length))
    case 1: {
      const b = Buffer.from(text)
      for (let i = 0; i < 1 + rng.int(4); i++) b[rng.int(b.length)] = rng.int(256)
      return b
    }
    case 2:
      return rng.bytes(rng.int(512))
    case 3:
      return `${text}${' '.repeat(rng.int(3))}${rng.pick(['', '{}', 'x', '\0'])}`
    case 4:
      return JSON.stringify(rng.pick([null, 0, 'x', [], {}, [text], { version: 1 }]))
    case 5:
      return `[${'['.repeat(rng.pick([10, 5000, 50_000]))}` // deep nesting: JSON.parse's own limit, not a crash
    case 6:
      return JSON.stringify({ ...JSON.parse(text), pad: 'x'.repeat(rng.pick([1000, 200_000])) })
    default:
      return '\ufeff' + text
  }
}

t.test(`state files: valid, or a StateError; never "no network" (seed ${seed})`, async (t) => {
  const rng = new Rng(seed)
  const dir = join(root, 'ns', 'lab')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'network.json')
  const text = JSON.stringify(full)
  writeFileSync(file, text)
  t.ok(readStateSync(dir), 'the base state reads')
  let failures = 0
  for (let i = 0; i < ITERATIONS && failures < 5; i++) {
    const content = rng.chance(0.5) ? corrupt(rng, text) : JSON.stringify(mutate(rng, full)) ?? 'undefined'
    writeFileSync(file, content)
    let got: unknown
    const err = thrown(() => (got = readStateSync(dir)))
    const what = `iteration ${i} (seed ${seed}): ${show(String(content))}`
    if (err !== undefined && !(err instanceof StateError)) {
      failures++
      t.fail(`${what}: threw ${err instanceof Error ? err.stack : String(err)}`)
    } else if (err === undefined && (typeof got !== 'object' || got === null)) {
      failures++
      t.fail(`${what}: read as ${String(got)} — a network whose file is there taken for none`)
    } else if (err === undefined) {
      const st = got as { name?: unknown; spec?: { name?: unknown } }
      if (st.name !== 'lab' || st.spec?.name !== 'lab') {
        failures++
        t.fail(`${what}: accepted a state of ${show(st.name)} (spec ${show(st.spec?.name)}) in the directory of lab`)
      }
    }
  }
  writeFileSync(file, '{"version":')
  const listing = await listStates(root, 'ns')
  t.same(listing.unreadable.map((u) => u.name), ['lab'], 'a corrupt state is listed as unreadable, not dropped')
})

t.test('found by this test: a state file names the network of its directory', async (t) => {
  // Was accepted: a state of 'other' (or whose spec is another network's) read from lab's directory, so
  // down and gc of lab would have acted on other's links, rules and dnsmasq.
  const dir = join(root, 'ns2', 'lab')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'network.json'), JSON.stringify({ ...full, name: 'other', spec: { ...full.spec, name: 'other' } }))
  const err = thrown(() => readStateSync(dir))
  t.type(err, StateError)
  t.equal((err as StateError).field, 'name')
  writeFileSync(join(dir, 'network.json'), JSON.stringify({ ...full, spec: { ...full.spec, name: 'other' } }))
  t.equal((thrown(() => readStateSync(dir)) as StateError).field, 'spec.name')
})

t.test(`sysctl ledgers: entries, or a StateError (seed ${seed})`, async (t) => {
  const rng = new Rng(seed + 1)
  const nsDir = join(root, 'ledger')
  mkdirSync(join(nsDir, 'lab'), { recursive: true })
  const file = join(nsDir, 'sysctls.json')
  const ledger = { 'net/ipv4/ip_forward': { before: '0', users: ['lab'] }, 'net/ipv4/conf/kvbr-lab/route_localnet': { before: '0', users: ['lab', 'other'] } }
  writeFileSync(file, JSON.stringify(ledger))
  t.same(await claimedSysctls(join(nsDir, 'lab'), 'lab'), Object.keys(ledger))
  let failures = 0
  for (let i = 0; i < ITERATIONS && failures < 5; i++) {
    const content = rng.chance(0.4) ? corrupt(rng, JSON.stringify(ledger)) : JSON.stringify(mutate(rng, ledger)) ?? 'undefined'
    writeFileSync(file, content)
    let got: string[] = []
    const err = await claimedSysctls(join(nsDir, 'lab'), 'lab').then(
      (keys) => ((got = keys), undefined),
      (e: unknown) => e,
    )
    const what = `iteration ${i} (seed ${seed}): ${show(String(content))}`
    if (err !== undefined && !(err instanceof StateError)) {
      failures++
      t.fail(`${what}: threw ${err instanceof Error ? err.stack : String(err)}`)
    } else if (err === undefined) {
      // Whatever was accepted is what the file lists for lab, and every key is a sysctl kvmnet may write.
      const parsed = JSON.parse(String(content)) as Record<string, { users: string[] }>
      const listed = Object.keys(parsed).filter((k) => parsed[k]?.users.includes('lab'))
      const bad = got.filter((k) => k.split('/').some((p) => p === '' || p === '.' || p === '..'))
      if (bad.length > 0 || listed.join() !== got.join()) {
        failures++
        t.fail(`${what}: read as ${show(got)}, the file lists ${show(listed)}`)
      }
    }
  }
})

t.test('found by this test: a ledger key that is no sysctl is refused when read', async (t) => {
  // Were accepted: '__proto__' became the ledger's prototype (its entry gone, its sysctl never restored);
  // '../../x' failed only at release, as a SpecError about 'key', after the ledger was rewritten without it.
  const nsDir = join(root, 'ledger2')
  mkdirSync(join(nsDir, 'lab'), { recursive: true })
  for (const key of ['__proto__', '../../etc/x', '/abs', 'a//b', '']) {
    writeFileSync(join(nsDir, 'sysctls.json'), `{${JSON.stringify(key)}: {"before": "0", "users": ["lab"]}}`)
    const err = await claimedSysctls(join(nsDir, 'lab'), 'lab').catch((e: unknown) => e)
    t.type(err, StateError, `${JSON.stringify(key)}: StateError`)
    t.equal((err as StateError).field, key, `${JSON.stringify(key)}: names the key`)
  }
})
