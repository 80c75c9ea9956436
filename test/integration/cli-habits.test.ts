/**
 * What operators bring from virsh/incus/podman: help in every form, --version, networks of every
 * namespace at once, errors as JSON, a clear line when not root, and orphaned networks shown as such.
 */
import t from 'tap'
import { execa } from 'execa'
import { chmodSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs, waitFor } from '../helpers/ns.js'
import { dhcp } from '../helpers/guest.js'
import { readableCopy } from '../helpers/readable-copy.js'
import { scratchDir } from '../helpers/scratch.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const pkg = JSON.parse((await import('node:fs')).readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
const cli = (args: string[], opts: { user?: number } = {}) =>
  opts.user === undefined
    ? execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, reject: false })
    : // `env -i`: without the test runner's process hooks, which an unprivileged process cannot write for. The
      // built command from a copy that user can read: the checkout may sit under a 0700 directory.
      execa('setpriv', [`--reuid=${opts.user}`, `--regid=${opts.user}`, '--clear-groups', 'env', '-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, join(readableCopy(), 'dist/cli.js'), ...args], {
        cwd: readableCopy(),
        reject: false,
      })

/**
 * After a test, also a failed one: down the network if its namespace is still there, then gc of the test's
 * state root (which stops a detached dnsmasq whose namespace went first), then the root itself.
 */
async function cleanUp(stateRoot: string, network: [string, string]): Promise<void> {
  await cli(['down', network[0], '--netns', network[1], '--state-root', stateRoot])
  await cli(['gc', '--state-root', stateRoot])
  await rm(stateRoot, { recursive: true, force: true })
}

function specFile(spec: unknown): string {
  const dir = scratchDir('kvmnet-habits-')
  // Readable by the unprivileged user of the not-root test too.
  chmodSync(dir, 0o755)
  const p = join(dir, 'spec.json')
  writeFileSync(p, JSON.stringify(spec), { mode: 0o644 })
  return p
}

t.test('help in every form, and the version', async (t) => {
  for (const args of [['--help'], ['-h'], ['help'], ['help', 'up'], ['up', '--help'], ['status', '-h'], ['down', '--help']]) {
    const r = await cli(args)
    t.equal(r.exitCode, 0, `kvmnet ${args.join(' ')} exits 0`)
    t.match(r.stdout, /Usage/, `kvmnet ${args.join(' ')} prints usage`)
  }
  t.match((await cli(['up', '--help'])).stdout, /--prune/, "up's own options")
  for (const flag of ['--version', '-V']) {
    const r = await cli([flag])
    t.equal(r.exitCode, 0)
    t.equal(r.stdout.trim(), `kvmnet ${pkg.version}`)
  }
  const bad = await cli(['help', 'frobnicate'])
  t.equal(bad.exitCode, 2)
})

t.test('status --all and list show networks of every namespace', async (t) => {
  const a = await makeNs(t, 'kvh')
  const b = await makeNs(t, 'kvh')
  const stateRoot = `/run/kvmnet-test/${a.name}-all`
  t.teardown(() => cleanUp(stateRoot, ['in-a', a.name]))
  const spec = (name: string) => specFile({ name, mode: 'very-isolated' })
  t.equal((await cli(['up', spec('in-a'), '--netns', a.name, '--state-root', stateRoot])).exitCode, 0)
  t.equal((await cli(['up', spec('in-b'), '--netns', b.name, '--state-root', stateRoot])).exitCode, 0)
  const onlyA = await cli(['status', '--netns', a.name, '--state-root', stateRoot])
  t.match(onlyA.stdout, /in-a/)
  t.notMatch(onlyA.stdout, /in-b/, 'status without --all: this namespace only')
  for (const args of [['status', '--all'], ['list']]) {
    const r = await cli([...args, '--state-root', stateRoot])
    t.match(r.stdout, /^NAME\s+NETNS\s+MODE/, `${args.join(' ')}: a NETNS column`)
    t.match(r.stdout, new RegExp(`in-a\\s+${a.name}\\s+very-isolated\\s+up`))
    t.match(r.stdout, new RegExp(`in-b\\s+${b.name}\\s+very-isolated\\s+up`))
  }
  // A namespace deleted under its network: listed as orphaned until gc.
  await execa('ip', ['netns', 'delete', b.name])
  const orphan = await cli(['list', '--state-root', stateRoot])
  t.match(orphan.stdout, /in-b\s+.*orphaned/, 'orphaned')
  const gc = await cli(['gc', '--state-root', stateRoot])
  t.match(gc.stdout, /orphaned networks cleaned: in-b/)
  t.equal((await cli(['down', 'in-a', '--netns', a.name, '--state-root', stateRoot])).exitCode, 0)
})

t.test('up prints each port with its device: a persistent tap by name, never an empty fds list', async (t) => {
  const ns = await makeNs(t, 'kvh')
  const stateRoot = `/run/kvmnet-test/${ns.name}-dev`
  t.teardown(() => cleanUp(stateRoot, ['dev', ns.name]))
  const file = specFile({ name: 'dev', mode: 'very-isolated', ports: [{ name: 'dev-vm1', mac: '52:54:00:77:01:01' }] })
  const r = await cli(['up', file, '--netns', ns.name, '--state-root', stateRoot])
  t.equal(r.exitCode, 0, r.stderr)
  t.match(r.stdout, /^dev-vm1\s+tap\s+52:54:00:77:01:01\s+dev-vm1$/m, 'the tap QEMU opens by name')
  t.notMatch(r.stdout, /fds\s*$/m, 'no "fds" with nothing after it')
})

t.test('--json errors carry the typed fields; exit codes unchanged', async (t) => {
  const bad = specFile({ name: 'x', mode: 'bridge' })
  const r = await cli(['up', bad, '--json'])
  t.equal(r.exitCode, 2)
  const err = JSON.parse(r.stderr) as { error: { name: string; field: string; reason: string } }
  t.same([err.error.name, err.error.field], ['SpecError', 'interface'])
  t.match(err.error.reason, /required/)
  const missing = await cli(['leases', 'nope', '--json', '--state-root', '/run/kvmnet-test/none'])
  t.equal(missing.exitCode, 1)
  t.equal((JSON.parse(missing.stderr) as { error: { name: string } }).error.name, 'NotFoundError')
})

t.test('not root: one clear line', async (t) => {
  const ns = await makeNs(t, 'kvh')
  const stateRoot = scratchDir('kvmnet-nobody-')
  chmodSync(stateRoot, 0o777)
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }))
  const r = await cli(['up', specFile({ name: 'np', mode: 'very-isolated' }), '--netns', ns.name, '--state-root', stateRoot], { user: 65534 })
  t.not(r.exitCode, 0)
  t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr.trim()}`)
  t.match(r.stderr, /needs root \(CAP_NET_ADMIN\)/)
})

t.test('imperative changes: port, forward and reservation add/rm, and up of the file then shows them', async (t) => {
  const ns = await makeNs(t, 'kvh')
  const stateRoot = `/run/kvmnet-test/${ns.name}-chg`
  t.teardown(() => cleanUp(stateRoot, ['chg', ns.name]))
  const common = ['--netns', ns.name, '--state-root', stateRoot]
  const file = specFile({ name: 'chg', mode: 'nat', ipv4: { address: '10.224.0.1/24', dhcp: { range: ['10.224.0.100', '10.224.0.150'] } } })
  t.equal((await cli(['up', file, ...common])).exitCode, 0)
  const port = await cli(['port', 'add', 'chg', 'chg-vm1', '--mac', '52:54:00:77:00:01', ...common])
  t.equal(port.exitCode, 0, port.stderr)
  t.match(port.stdout, /port chg-vm1 \(tap\) guest mac 52:54:00:77:00:01/)
  t.equal((await cli(['forward', 'add', 'chg', 'tcp', '2222', '10.224.0.10:22', ...common])).exitCode, 0)
  t.equal((await cli(['reservation', 'add', 'chg', '52:54:00:77:00:01', '10.224.0.10', 'vm1', ...common])).exitCode, 0)
  const st = JSON.parse((await cli(['status', 'chg', '--json', ...common])).stdout) as { firewall: { forwards: { hostPort: number }[] }; ports: { name: string }[] }
  t.same(st.firewall.forwards.map((f) => f.hostPort), [2222], 'the forward is in the kernel')
  t.same(st.ports.map((p) => p.name), ['chg-vm1'])
  const again = await cli(['up', file, ...common])
  t.not(again.exitCode, 0, 'up of the file would remove them')
  t.match(again.stderr, /port chg-vm1.*forward tcp\/2222.*reservation 52:54:00:77:00:01/)
  t.equal((await cli(['forward', 'rm', 'chg', 'tcp', '2222', ...common])).exitCode, 0)
  t.equal((await cli(['reservation', 'rm', 'chg', '52:54:00:77:00:01', ...common])).exitCode, 0)
  t.equal((await cli(['port', 'rm', 'chg', 'chg-vm1', ...common])).exitCode, 0)
  t.equal((await cli(['up', file, ...common])).exitCode, 0, 'nothing left to prune')
  t.equal((await cli(['down', 'chg', ...common])).exitCode, 0)
})

t.test('plan (and up --dry-run) says what up would do, touching nothing; leases --watch prints lease events', async (t) => {
  const ns = await makeNs(t, 'kvh')
  const stateRoot = `/run/kvmnet-test/${ns.name}-plan`
  t.teardown(() => cleanUp(stateRoot, ['pl', ns.name]))
  const common = ['--netns', ns.name, '--state-root', stateRoot]
  const spec = { name: 'pl', mode: 'nat', ipv4: { address: '10.224.1.1/24', dhcp: { range: ['10.224.1.100', '10.224.1.150'] } }, ports: [{ name: 'pl-p0' }] }
  const file = specFile(spec)
  const first = await cli(['plan', file, ...common])
  t.match(first.stdout, /\+ bridge kvbr-pl with 10\.224\.1\.1\/24/)
  t.match(first.stdout, /\+ tap pl-p0/)
  t.match(first.stdout, /\+ nft table inet kvmnet_pl/)
  t.equal((await ns.run('ip', ['-o', 'link', 'show', 'kvbr-pl']).catch(() => '')).trim(), '', 'nothing was created')
  t.equal((await cli(['up', file, ...common])).exitCode, 0)
  t.match((await cli(['up', file, '--dry-run', ...common])).stdout, /= nothing to change/)
  const changed = specFile({ ...spec, ports: [{ name: 'pl-p1' }], forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.224.1.10' }] })
  const diff = (await cli(['plan', changed, ...common])).stdout
  t.match(diff, /\+ tap pl-p1/)
  t.match(diff, /- tap pl-p0/)
  t.match(diff, /\+ forward tcp\/8080/)
  // leases --watch: a guest's lease appears as an event line.
  const watch = execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'leases', 'pl', '--watch', '--json', ...common], { cwd: root, reject: false })
  t.teardown(() => {
    watch.kill('SIGKILL')
  })
  const guest = await makeNs(t, 'kvh')
  await ns.ip(`link add pl-g type veth peer name eth0 netns ${guest.name}\nlink set pl-g master kvbr-pl up`)
  await guest.ip('link set eth0 up')
  let lines = ''
  watch.stdout?.on('data', (d: Buffer) => (lines += d.toString()))
  const lease = await dhcp(guest)
  t.ok(lease)
  // Granted before or after the watch started: listed as present, or reported as added.
  await waitFor(() => lines.includes(`"ip":"${lease?.ip}"`) || undefined, 15_000)
  t.match(lines, new RegExp(`"ip":"${lease?.ip.replace(/\./g, '\\.')}"`), 'the lease event, as a JSON line')
  watch.kill('SIGINT')
  await watch
  t.equal((await cli(['down', 'pl', ...common])).exitCode, 0)
})
