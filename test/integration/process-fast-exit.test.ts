/**
 * The programs end through _exit(2) once their command has answered (src/native/fast-exit.ts), not through
 * Node's teardown: seen under strace as no thread ending on its own once the answer is written (the
 * teardown joins V8's platform workers, each of which calls exit(2) before the process's exit_group),
 * while the answer, the exit code and the recorded state are all there. Under NODE_V8_COVERAGE the
 * teardown stays (V8 writes coverage there): the same run is the control that the observable differs.
 * Runs the CLI and the plugin from dist/ (npm run build).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs } from '../helpers/ns.js'
import { PLUGIN, downNetwork, pluginMissing } from '../helpers/cni-runtime/index.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = join(root, 'dist/cli.cjs')
const noStrace = spawnSync('strace', ['-V']).status === 0 ? false : 'strace is not installed'
const skip = existsSync(cli) ? (pluginMissing() ?? noStrace) : 'dist/ not built (npm run build)'

const dir = mkdtempSync(join(tmpdir(), 'k11x-fastexit-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

let runs = 0
interface Traced {
  status: number | null
  stdout: string
  stderr: string
  /** Threads that called exit(2) after the process's last write to fd 1 (its answer). */
  exitsAfterAnswer: number
  exitGroup: boolean
}

/**
 * Runs `command` under `strace -f` (writes and exits only) in `env -i` with PATH and `vars`: a host's
 * environment, not tap's (no NODE_V8_COVERAGE unless `vars` has it, no loader of tap's).
 */
function traced(command: string[], vars: Record<string, string>, input?: string): Traced {
  const log = join(dir, `strace-${runs++}.txt`)
  const env = Object.entries({ PATH: process.env.PATH ?? '', ...vars }).map(([k, v]) => `${k}=${v}`)
  const r = spawnSync('env', ['-i', ...env, 'strace', '-f', '-qq', '-o', log, '-e', 'trace=write,exit,exit_group', '-e', 'signal=none', '-s', '0', ...command], { input, encoding: 'utf8' })
  const lines = readFileSync(log, 'utf8').split('\n')
  const lastAnswer = lines.findLastIndex((l) => /\bwrite\(1,/.test(l))
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    exitsAfterAnswer: lines.slice(lastAnswer + 1).filter((l) => /\bexit\(/.test(l)).length,
    exitGroup: lines.some((l) => /\bexit_group\(/.test(l)),
  }
}

t.test('kvmnet up and down answer in full, record their state and end without the teardown', { skip }, async (t) => {
  const host = await makeNs(t, 'k11x')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const name = 'k11xfast'
  t.teardown(() => downNetwork(host, name, stateRoot))
  const specFile = join(dir, 'nat.json')
  writeFileSync(specFile, JSON.stringify({ name, mode: 'nat', ipv4: { address: '10.233.9.1/24' }, dns: { enabled: false }, ports: [{ name: 'k11xp0' }], forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.233.9.2', guestPort: 80 }] }))
  const ns = ['--netns', host.path, '--state-root', stateRoot]
  const up = traced([process.execPath, cli, 'up', specFile, ...ns, '--json'], {})
  t.equal(up.status, 0, `kvmnet up: ${up.stderr.trim()}`)
  const report = JSON.parse(up.stdout) as { network?: string }
  t.equal(report.network, name, 'the whole JSON report was written before the end')
  t.ok(up.exitGroup, 'the process ended with exit_group')
  // The nft thread may retire on its own as the command closes the network (at most that one).
  t.ok(up.exitsAfterAnswer <= 1, `no teardown of the platform's threads after the answer (${up.exitsAfterAnswer} thread exits)`)
  const netDir = readdirSync(stateRoot, { recursive: true, encoding: 'utf8' }).find((p) => p.endsWith(`${name}/network.json`))
  t.ok(netDir, 'the state was recorded')
  const status = traced([process.execPath, cli, 'status', name, ...ns, '--json'], {})
  t.equal(status.status, 0, `kvmnet status: ${status.stderr.trim()}`)
  t.match(status.stdout, new RegExp(`"${name}"`), 'status reads the recorded network')

  // Control: with NODE_V8_COVERAGE, Node's own teardown (the observable above tells the two apart).
  const cov = join(dir, 'coverage')
  const down = traced([process.execPath, cli, 'down', name, ...ns], { NODE_V8_COVERAGE: cov })
  t.equal(down.status, 0, `kvmnet down (teardown kept): ${down.stderr.trim()}`)
  t.ok(down.exitsAfterAnswer >= 2, `the teardown joins the platform's threads (${down.exitsAfterAnswer} thread exits)`)
  t.ok(existsSync(cov) && readdirSync(cov).length > 0, 'V8 wrote its coverage')
  const left = existsSync(stateRoot) ? readdirSync(stateRoot, { recursive: true, encoding: 'utf8' }) : []
  t.notOk(left.some((p) => p.endsWith(`${name}/network.json`)), 'the network is down')
})

t.test('exit codes through the fast exit: bad input 2, unknown command 2, nothing to do 0', { skip }, async (t) => {
  const host = await makeNs(t, 'k11x')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, JSON.stringify({ name: 'k11xbad', mode: 'nat', ipv4: { address: '10.233.10.1/33' } }))
  const r = traced([process.execPath, cli, 'up', bad, '--netns', host.path, '--state-root', stateRoot], {})
  t.equal(r.status, 2, 'a spec error exits 2')
  t.match(r.stderr, /ipv4\.address/, 'naming the field')
  const u = traced([process.execPath, cli, 'no-such-command'], {})
  t.equal(u.status, 2, 'an unknown command exits 2')
  const d = traced([process.execPath, cli, 'down', 'k11xnone', '--netns', host.path, '--state-root', stateRoot], {})
  t.equal(d.status, 0, `down of a network that is not up: nothing to do (${d.stderr.trim()})`)
  // A profile is written in Node's teardown: with --cpu-prof the program keeps it.
  const prof = join(dir, 'prof')
  const p = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${prof}`, cli, 'no-such-command'], { encoding: 'utf8' })
  t.equal(p.status, 2, 'exit 2 with --cpu-prof')
  t.ok(existsSync(prof) && readdirSync(prof).some((f) => f.endsWith('.cpuprofile')), 'the CPU profile was written')
})

t.test('kvmnet-cni ADD and DEL on a network that is up answer in full and end without the teardown', { skip }, async (t) => {
  const host = await makeNs(t, 'k11x')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const name = 'k11xfastcni'
  t.teardown(() => downNetwork(host, name, stateRoot))
  const config = JSON.stringify({ cniVersion: '1.1.0', name, type: 'kvmnet-cni', stateRoot, network: { mode: 'nat', ipv4: { address: '10.233.11.1/24', dhcp: { range: ['10.233.11.10', '10.233.11.99'] } }, dns: { enabled: false } } })
  const ctrs = [await makeNs(t, 'k11x'), await makeNs(t, 'k11x')]
  const vars = (command: string, i: number) => ({ CNI_COMMAND: command, CNI_CONTAINERID: `k11x${i}`, CNI_NETNS: ctrs[i]!.path, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' })
  const enter = ['nsenter', `--net=${host.path}`, '--', process.execPath, PLUGIN]
  // The first ADD brings the network up and starts dnsmasq: not traced (strace -f would follow the daemon
  // and wait for it).
  const first = spawnSync('env', ['-i', ...Object.entries({ PATH: process.env.PATH ?? '', ...vars('ADD', 0) }).map(([k, v]) => `${k}=${v}`), ...enter], { input: config, encoding: 'utf8' })
  t.equal(first.status, 0, `first ADD: ${first.stderr.trim()}`)
  const add = traced(enter, vars('ADD', 1), config)
  t.equal(add.status, 0, `ADD: ${add.stderr.trim()}`)
  const result = JSON.parse(add.stdout) as { ips?: { address: string }[] }
  t.match(result.ips?.[0]?.address, /^10\.233\.11\.\d+\/24$/, 'the whole result was written before the end')
  t.ok(add.exitGroup, 'ADD ended with exit_group')
  t.ok(add.exitsAfterAnswer <= 1, `ADD: no teardown of the platform's threads after the answer (${add.exitsAfterAnswer} thread exits)`)
  const ip = spawnSync('ip', ['-n', ctrs[1]!.name, '-4', '-o', 'addr', 'show', 'eth0'], { encoding: 'utf8' }).stdout
  t.match(ip, /10\.233\.11\.\d+\/24/, 'the container has its address')
  const del = traced(enter, vars('DEL', 1), config)
  t.equal(del.status, 0, `DEL: ${del.stderr.trim()}`)
  t.ok(del.exitGroup, 'DEL ended with exit_group')
  const again = spawnSync('ip', ['-n', ctrs[1]!.name, '-o', 'link', 'show', 'eth0'], { encoding: 'utf8' })
  t.not(again.status, 0, 'the container\'s interface is gone')
})
