/**
 * `kvmnet doctor` with no network named checks the host's run-time requirements (README "What the host
 * needs at run time") and names what is missing with its Debian package. Hosts that lack something are
 * made for real, for the doctor's process only:
 *   - no dnsmasq: PATH is a directory of links to everything in /usr/sbin but dnsmasq, plus /usr/bin;
 *   - no libnftables: in a private mount namespace (unshare -m), the library directory is covered by a
 *     directory of links to everything in it but libnftables.so*, so the dynamic loader finds no
 *     libnftables.so.1 by any path (its cache names a file that is no longer there).
 * Each doctor runs against a throwaway network namespace (--netns) so nothing of the machine's own
 * networking is read into the answer; the root namespace is not changed (the feature checks only read).
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, symlinkSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { doctor, type DoctorReport } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cliArgs = (args: string[]) => ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args]

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ks-doctor-host-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A directory of symbolic links to every entry of `from` except those `drop` matches. */
function linkFarm(dir: string, from: string, drop: RegExp): string {
  mkdirSync(dir, { recursive: true })
  for (const name of readdirSync(from)) if (!drop.test(name)) symlinkSync(join(from, name), join(dir, name))
  return dir
}

function hostRow(stdout: string, requirement: string): string | undefined {
  return stdout.split('\n').find((l) => l.startsWith(requirement))
}

t.test('on this (set-up) host every requirement is met', async (t) => {
  const ns = await makeNs(t, 'ks')
  const r = await doctor({ netns: ns.name, stateRoot: `/run/kvmnet-test/${ns.name}` })
  t.ok(r.host && r.host.length > 20, 'the host requirements were checked')
  t.same(r.host?.filter((c) => c.status !== 'ok'), [], 'none missing')
  t.same(r.findings, [], 'no findings')
  for (const req of ['kernel: nf_tables', 'kernel: bridge', 'kernel: tun/tap', 'kernel: macvtap', 'kernel: vxlan', 'kernel: tc HTB qdisc', 'kernel: tc ingress qdisc', 'kernel: tc u32 classifier', 'kernel: tc mirred action', 'kernel: IFB device', 'library: libnftables.so.1', 'program: dnsmasq', 'permission: root or CAP_NET_ADMIN'])
    t.ok(r.host?.some((c) => c.requirement === req), `${req} is checked`)
  t.match(r.host?.find((c) => c.requirement === 'program: dnsmasq')?.found, /\/dnsmasq \d+\.\d+/, 'dnsmasq with its version')
  t.match(r.host?.find((c) => c.requirement === 'library: libnftables.so.1')?.found, /\/libnftables\.so\.1/, 'where libnftables was loaded from')
  const named = await doctor({ netns: ns.name, stateRoot: `/run/kvmnet-test/${ns.name}`, network: 'nothing-here' })
  t.equal(named.host, undefined, 'a named network: no host checks')
})

t.test('a host without dnsmasq: doctor names it and dnsmasq-base, exit 1', async (t) => {
  const ns = await makeNs(t, 'ks')
  const sbin = linkFarm(scratch(t), '/usr/sbin', /^dnsmasq$/)
  const env = { PATH: `${sbin}:/usr/local/bin:/usr/bin`, LANG: 'C.UTF-8' }
  t.not((await execa('sh', ['-c', 'command -v dnsmasq'], { env, extendEnv: false, reject: false })).exitCode, 0, 'dnsmasq is not on that PATH')
  const args = ['doctor', '--netns', ns.name, '--state-root', `/run/kvmnet-test/${ns.name}`]
  const c = await execa(process.execPath, cliArgs(args), { cwd: root, env, extendEnv: false, reject: false })
  t.equal(c.exitCode, 1, `exit 1\n${c.stdout}\n${c.stderr}`)
  t.match(hostRow(c.stdout, 'program: dnsmasq'), /program: dnsmasq\s+missing\s+not on PATH.*dnsmasq-base$/, 'the requirements table names it and its package')
  t.match(c.stdout, /host-requirement\s+error\s+-\s+program: dnsmasq\s+program: dnsmasq is missing.*apt-get install dnsmasq-base/, 'a finding with the fix')
  t.match(hostRow(c.stdout, 'program: nft'), /\s+ok\s+/, 'the rest of /usr/sbin is still found')
  const j = await execa(process.execPath, cliArgs([...args, '--json']), { cwd: root, env, extendEnv: false, reject: false })
  const report = JSON.parse(j.stdout) as DoctorReport
  t.match(report.host?.find((h) => h.requirement === 'program: dnsmasq'), { status: 'missing', package: 'dnsmasq-base' })
  t.same(report.findings.map((f) => f.object), ['program: dnsmasq'], 'nothing else is missing')
})

t.test("a host without iproute2: kvmnet needs none of it (only the demo runs ip and ss), so doctor warns and exits 0", async (t) => {
  const ns = await makeNs(t, 'ks')
  const dir = scratch(t)
  const bin = linkFarm(join(dir, 'bin'), '/usr/bin', /^(ip|ss|tc)$/)
  const sbin = linkFarm(join(dir, 'sbin'), '/usr/sbin', /^(ip|ss|tc)$/)
  const env = { PATH: `${sbin}:${bin}`, LANG: 'C.UTF-8' }
  for (const p of ['ip', 'ss', 'tc']) t.not((await execa('sh', ['-c', `command -v ${p}`], { env, extendEnv: false, reject: false })).exitCode, 0, `${p} is not on that PATH`)
  const args = ['doctor', '--netns', ns.name, '--state-root', `/run/kvmnet-test/${ns.name}`, '--json']
  const c = await execa(process.execPath, cliArgs(args), { cwd: root, env, extendEnv: false, reject: false })
  const report = JSON.parse(c.stdout || '{}') as DoctorReport
  t.equal(c.exitCode, 0, `exit 0\n${c.stderr}`)
  t.notOk(report.host?.some((h) => h.requirement === 'program: tc'), 'tc is not a requirement: traffic control goes over rtnetlink')
  t.same(
    report.findings.map((f) => [f.object, f.severity]),
    [
      ['program: ip (kvmnet demo)', 'warning'],
      ['program: ss (kvmnet demo)', 'warning'],
    ],
    'ip and ss: warnings that name the demo',
  )
})

t.test('a host without libnftables: doctor names it and libnftables1, exit 1', async (t) => {
  const ns = await makeNs(t, 'ks')
  const libDir = dirname(realpathSync(`/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libnftables.so.1`))
  const dir = scratch(t)
  // In the private mount namespace only: `orig` shows the real directory, `farm` links to all of it but
  // libnftables and covers the real one. Both mounts end with that namespace (propagation private).
  const script = `set -e
mkdir "$1/orig" "$1/farm"
mount --bind "$2" "$1/orig"
for f in "$1"/orig/*; do case "\${f##*/}" in libnftables.so*) ;; *) ln -s "$f" "$1/farm/\${f##*/}" ;; esac; done
mount --bind "$1/farm" "$2"
shift 2
exec "$@"`
  const args = ['doctor', '--netns', ns.name, '--state-root', `/run/kvmnet-test/${ns.name}`, '--json']
  const c = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, libDir, process.execPath, ...cliArgs(args)], { cwd: root, reject: false })
  const report = JSON.parse(c.stdout || '{}') as DoctorReport
  t.equal(c.exitCode, 1, `exit 1\n${c.stderr}`)
  const lib = report.host?.find((h) => h.requirement === 'library: libnftables.so.1')
  t.match(lib, { status: 'missing', package: 'libnftables1' }, JSON.stringify(lib))
  t.match(lib?.found, /dlopen failed: .*libnftables\.so\.1/, 'with what the loader said')
  t.match(report.findings, [{ code: 'host-requirement', severity: 'error', object: 'library: libnftables.so.1', fix: 'apt-get install libnftables1' }])
  // Debian 12's nft and dnsmasq link libnftables.so.1 themselves: they cannot run either, and say why.
  for (const f of report.findings.filter((x) => x.object !== 'library: libnftables.so.1')) {
    t.match(f.object, /^program: (nft|dnsmasq)$/, `${f.object}: only programs that need the library`)
    t.match(f.problem, /does not run .*libnftables\.so\.1/, `${f.object} names the library`)
  }
  const again = await execa('sh', ['-c', `ls "${libDir}"/libnftables.so.1`], { reject: false })
  t.equal(again.exitCode, 0, 'outside that mount namespace the library is where it was')
  t.same(readdirSync(join(dir, 'orig')), [], 'and the bind mount never existed here')
})
