/**
 * The state root is checked before anything is touched, and what kvmnet writes there cannot be turned
 * against the host: an invalid --state-root (a file, a file on the way, unwritable, a path dnsmasq cannot
 * take) is refused with exit 2 naming it before any link exists; a relative one resolves against the
 * working directory; an `up` refused for any reason leaves nothing under the root; symbolic links planted
 * in the state directories are never followed (the lock, dnsmasq's log, the lease file); a root others can
 * write is refused; and a root dnsmasq's unprivileged user cannot traverse is refused for a detached
 * dnsmasq (its reservations and records would be silently lost) while a supervised one works there.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NotFoundError, createNetwork, openNetwork, type NetworkSpecInput } from '../../src/index.js'
import { dhcp } from '../helpers/guest.js'
import { guestOn } from '../helpers/coexist.js'
import { makeNs, type TestNs } from '../helpers/ns.js'

const P = 'kh'
const root = fileURLToPath(new URL('../..', import.meta.url))
// tsx by its resolved URL: the CLI also runs from working directories outside the clone.
const cli = (args: string[], cwd = root) => execa('node', ['--import', import.meta.resolve('tsx'), join(root, 'src/cli/main.ts'), ...args], { cwd, reject: false, timeout: 60_000 })

function spec(n: number, extra: Record<string, unknown> = {}): NetworkSpecInput {
  return { name: `khs${n}`, mode: 'nat', ipv4: { address: `10.234.${n}.1/24`, dhcp: { range: [`10.234.${n}.100`, `10.234.${n}.150`] } }, ...extra } as NetworkSpecInput
}

/** A namespace and a directory of the test's own under /run/kvmnet-test/NS (removed with the namespace). */
async function setup(t: Test) {
  const ns = await makeNs(t, P)
  const dir = `/run/kvmnet-test/${ns.name}`
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  const s = statSync(ns.path)
  return { ns, dir, label: `ns-${s.dev}-${s.ino}` }
}

function specFile(dir: string, n: number, extra: Record<string, unknown> = {}): string {
  const f = join(dir, `spec${n}.json`)
  writeFileSync(f, JSON.stringify(spec(n, extra)))
  return f
}

/** Down at once, should an up meant to be refused have been accepted (its detached dnsmasq would outlive the test). */
async function downIfUp(ns: TestNs, name: string, stateRoot: string): Promise<void> {
  const net = await openNetwork(name, { netns: ns.name, stateRoot }).catch((err: unknown) => {
    // No such network: the expected case, nothing to take down.
    if (err instanceof NotFoundError) return undefined
    throw err
  })
  await net?.down()
}

async function links(ns: TestNs): Promise<string[]> {
  return (JSON.parse(await ns.run('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n !== 'lo')
}

/** Every entry under `dir`, recursively (empty when it does not exist). */
function under(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true }).map(String).sort()
}

t.test('an invalid --state-root is refused (exit 2, named) before anything is made', async (t) => {
  const { ns, dir } = await setup(t)
  const f = specFile(dir, 1)
  writeFileSync(join(dir, 'afile'), 'x')
  for (const [what, stateRoot] of [
    ['a file', join(dir, 'afile')],
    ['a file on the way', join(dir, 'afile', 'sub')],
    ['unwritable (procfs)', '/proc/kh-state'],
    ['a path dnsmasq cannot take (a space)', join(dir, 'with space')],
  ] as const) {
    const r = await cli(['up', f, '--netns', ns.name, '--state-root', stateRoot])
    t.equal(r.exitCode, 2, `${what}: exit 2 (${r.stderr})`)
    t.match(r.stderr, /--state-root/, `${what}: the option is named`)
    t.same(await links(ns), [], `${what}: no link was made`)
  }
  t.equal(readFileSync(join(dir, 'afile'), 'utf8'), 'x', 'the file is untouched')
  t.notOk(existsSync(join(dir, 'with space')), 'nothing made at the refused path')
})

t.test('a relative --state-root resolves against the working directory', async (t) => {
  const { ns, dir, label } = await setup(t)
  const f = specFile(dir, 2)
  const cwd = join(dir, 'cwd')
  mkdirSync(cwd)
  const up = await cli(['up', f, '--netns', ns.name, '--state-root', 'rel/state'], cwd)
  t.equal(up.exitCode, 0, up.stderr)
  t.ok(existsSync(join(cwd, 'rel/state', label, 'khs2', 'network.json')), 'the state is under the working directory')
  t.equal((await cli(['status', 'khs2', '--netns', ns.name, '--state-root', 'rel/state'], cwd)).exitCode, 0, 'status finds it the same way')
  const down = await cli(['down', 'khs2', '--netns', ns.name, '--state-root', 'rel/state'], cwd)
  t.equal(down.exitCode, 0, down.stderr)
  t.same(await links(ns), [], 'down removed the links')
})

t.test('an up refused for any reason leaves nothing under the state root', async (t) => {
  const { ns, dir } = await setup(t)
  // A link with the bridge's name that is not a bridge: found only once the apply runs.
  await ns.ip('link add kvbr-khs3 type veth peer name khv1')
  const stateRoot = join(dir, 'root')
  const cases: [string, string][] = [
    ['a link in the way', specFile(dir, 3)],
    ['an uplink that is not there', specFile(dir, 4, { uplink: 'nope0' })],
  ]
  for (const [what, f] of cases) {
    const r = await cli(['up', f, '--netns', ns.name, '--state-root', stateRoot])
    for (const name of ['khs3', 'khs4']) await downIfUp(ns, name, stateRoot)
    t.not(r.exitCode, 0, `${what}: refused (${r.stderr.trim()})`)
    t.same(under(stateRoot), [], `${what}: nothing left under the state root`)
  }
  t.same((await links(ns)).sort(), ['khv1', 'kvbr-khs3'], "only the test's own links")
})

t.test('symbolic links planted in the state directories are not followed', async (t) => {
  const { ns, dir, label } = await setup(t)
  const stateRoot = join(dir, 'root')
  const victim = (name: string) => {
    const p = join(dir, name)
    writeFileSync(p, 'precious\n', { mode: 0o644 })
    chmodSync(p, 0o644)
    return p
  }
  const intact = (p: string) => readFileSync(p, 'utf8') === 'precious\n' && (statSync(p).mode & 0o777) === 0o644

  // The lock.
  const lockVictim = victim('lock-victim')
  mkdirSync(join(stateRoot, label), { recursive: true })
  symlinkSync(lockVictim, join(stateRoot, label, 'khs5.lock'))
  const net = createNetwork(spec(5), { netns: ns.name, stateRoot, dnsmasq: 'detached' })
  t.teardown(() => net.down().catch(() => undefined))
  await t.rejects(net.up(), 'up refuses a lock that is a symbolic link')
  t.ok(intact(lockVictim), "the lock's target is untouched")
  t.same(await links(ns), [], 'no link was made')

  // dnsmasq's log and lease file.
  const logVictim = victim('log-victim')
  const leaseVictim = victim('lease-victim')
  const dd = join(stateRoot, label, 'khs6', 'dnsmasq')
  mkdirSync(dd, { recursive: true })
  symlinkSync(logVictim, join(dd, 'dnsmasq.log'))
  symlinkSync(leaseVictim, join(dd, 'leases'))
  const net6 = createNetwork(spec(6), { netns: ns.name, stateRoot, dnsmasq: 'detached' })
  t.teardown(() => net6.down().catch(() => undefined))
  await net6.up().catch((err: unknown) => t.comment(`up refused: ${(err as Error).message}`))
  t.ok(intact(logVictim), "dnsmasq.log's target is untouched")
  t.ok(intact(leaseVictim), "the lease file's target is untouched (content and mode)")
})

t.test('a state root others can write, or owned by another user, is refused naming it', async (t) => {
  const { ns, dir } = await setup(t)
  const f = specFile(dir, 7)
  const open = join(dir, 'open')
  mkdirSync(open)
  chmodSync(open, 0o777)
  let r = await cli(['up', f, '--netns', ns.name, '--state-root', open])
  await downIfUp(ns, 'khs7', open)
  t.equal(r.exitCode, 2, r.stderr)
  t.match(r.stderr, new RegExp(`--state-root.*${open}`), 'named')
  const theirs = join(dir, 'theirs')
  mkdirSync(theirs)
  chownSync(theirs, 65534, 65534)
  r = await cli(['up', f, '--netns', ns.name, '--state-root', theirs])
  await downIfUp(ns, 'khs7', theirs)
  t.equal(r.exitCode, 2, r.stderr)
  t.match(r.stderr, new RegExp(`--state-root.*${theirs}`), 'named')
  t.same(await links(ns), [], 'no link was made')
  t.same(under(open), [], 'nothing made in it')
})

t.test("a state root dnsmasq's user cannot traverse (a 0700 parent)", async (t) => {
  const { ns, dir } = await setup(t)
  const priv = join(dir, 'private')
  mkdirSync(priv, { mode: 0o700 })
  chmodSync(priv, 0o700)
  const stateRoot = join(priv, 'state')
  const extra = { dns: { hosts: [{ name: 'files', ip: '10.234.8.7' }] }, ipv4: { address: '10.234.8.1/24', dhcp: { range: ['10.234.8.100', '10.234.8.150'], hosts: [{ mac: '52:54:00:00:08:09', ip: '10.234.8.9' }] } } }
  const f = specFile(dir, 8, extra)
  const r = await cli(['up', f, '--netns', ns.name, '--state-root', stateRoot])
  await downIfUp(ns, 'khs8', stateRoot)
  t.equal(r.exitCode, 2, `a detached dnsmasq would lose its reservations and records: refused (${r.stderr.trim()})`)
  t.match(r.stderr, /--state-root/)
  t.match(r.stderr, /nobody/, "says which user cannot get there")
  t.same(await links(ns), [], 'no link was made')
  t.same(under(stateRoot), [], 'nothing left under the state root')

  // A supervised dnsmasq keeps root: the same network works there, records and reservations included.
  const net = createNetwork(spec(8, extra), { netns: ns.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const g = await guestOn(t, ns, net.bridge ?? '', 'khs8-v0', P, '52:54:00:00:08:09')
  t.equal((await dhcp(g))?.ip, '10.234.8.9', 'the reservation holds')
  t.equal((await g.try('dig', ['+short', '+time=2', '+tries=1', '@10.234.8.1', 'files'])).stdout.trim(), '10.234.8.7', 'the DNS record answers')
})
