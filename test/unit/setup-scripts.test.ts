/**
 * The set-up scripts and their package lists, without running them: every script parses (bash -n) and
 * passes shellcheck (when installed: scripts/ci-packages.txt lists it); no script adds a dpkg architecture
 * or starts/enables a service; the run-time list holds every package `kvmnet doctor` names; the README's
 * commands and .ci/run call the scripts they should. What the scripts do on a fresh machine is checked by
 * running them (scripts/arm64-node.sh and both set-ups compare dpkg's foreign architectures before and
 * after and fail when they differ).
 */
import t from 'tap'
import { execa } from 'execa'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HOST_PROGRAMS } from '../../src/doctor/host.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const scripts = [...readdirSync(join(root, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => `scripts/${f}`), '.ci/run']
const read = (f: string) => readFileSync(join(root, f), 'utf8')
/** A script's commands: comment lines and trailing comments dropped (a `#` inside quotes is kept). */
const code = (f: string) => read(f).split('\n').filter((l) => !/^\s*#/.test(l)).map((l) => l.replace(/\s#[^'"]*$/, ''))
const packagesOf = (f: string) => read(f).split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)
const onPath = (cmd: string) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, cmd)))

t.test('every set-up script parses (bash -n)', async (t) => {
  t.ok(scripts.includes('scripts/setup.sh') && scripts.includes('scripts/setup-runtime.sh') && scripts.includes('scripts/setup-lib.sh'))
  for (const f of scripts) {
    const r = await execa('bash', ['-n', f], { cwd: root, reject: false })
    t.equal(r.exitCode, 0, `${f}${r.stderr ? `: ${r.stderr}` : ''}`)
  }
})

t.test('shellcheck finds nothing', { skip: onPath('shellcheck') ? false : 'shellcheck is not installed (Debian: shellcheck)' }, async (t) => {
  const r = await execa('shellcheck', ['-x', ...scripts], { cwd: root, reject: false })
  t.equal(r.exitCode, 0, r.stdout)
})

t.test('no script adds a dpkg architecture, or starts or enables a service', async (t) => {
  const forbidden = [/--add-architecture/, /\bsystemctl\s+(--\S+\s+)*(enable|start|restart|reload)\b/, /\bservice\s+\S+\s+(start|restart)\b/, /\binvoke-rc\.d\b/, /deb-systemd-helper\s+enable\b/, /deb-systemd-invoke\b/]
  const offending = scripts.flatMap((f) => code(f).filter((l) => forbidden.some((re) => re.test(l))).map((l) => `${f}: ${l.trim()}`))
  t.same(offending, [], `none in ${scripts.join(', ')}`)
  // The one dpkg configuration the scripts may touch is their own private apt state (arm64-node.sh).
  t.match(read('scripts/arm64-node.sh'), /Dir::State::status=/, 'arm64-node.sh runs apt on a private state')
})

t.test('the package lists', async (t) => {
  const runtime = packagesOf('scripts/runtime-packages.txt')
  const tests = packagesOf('scripts/ci-packages.txt')
  for (const p of [...runtime, ...tests]) t.match(p, /^[a-z0-9][a-z0-9+.-]+$/, `${p} is a Debian package name`)
  for (const p of new Set([...HOST_PROGRAMS.map((h) => h.package), 'libnftables1'])) t.ok(runtime.includes(p), `${p}, which doctor names, is in the run-time list`)
  for (const p of ['busybox', 'socat']) t.ok(runtime.includes(p), `${p}, which the demo runs, is in the run-time list`)
  for (const p of ['libvirt-daemon', 'libvirt-daemon-driver-qemu', 'libvirt-clients']) t.ok(tests.includes(p), `${p}, which the libvirt tests run, is in the test list`)
  for (const p of ['qemu-system-x86', 'podman', 'firewalld', 'golang-go', 'g++-aarch64-linux-gnu', 'libvirt-daemon']) t.notOk(runtime.includes(p), `${p} is for the tests only`)
  t.match(read('scripts/setup.sh'), /setup_install_packages scripts\/runtime-packages\.txt scripts\/ci-packages\.txt/, 'the test set-up installs both lists')
  t.match(read('scripts/setup-runtime.sh'), /setup_install_packages scripts\/runtime-packages\.txt\n/, 'the run-time set-up only its own')
})

t.test("the README's commands and .ci/run", async (t) => {
  const readme = read('README.md')
  t.match(readme, /^bash scripts\/setup-runtime\.sh && node dist\/cli\.js demo/m, 'the demo command uses the run-time set-up')
  t.match(readme, /^bash scripts\/setup\.sh && npm test/m, 'the test command uses the test set-up')
  t.match(code('.ci/run').join('\n'), /bash scripts\/setup\.sh\s+npm test/, '.ci/run is the test command')
})
