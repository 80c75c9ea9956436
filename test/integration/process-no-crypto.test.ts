/**
 * The process paths hash without node:crypto: `kvmnet up` / `down` and kvmnet-cni ADD / DEL take their
 * SHA-256 (bridge and link names, MACs, rule and learning hashes, memo keys) from the native addon
 * (src/util/sha256.ts), because the first require of node:crypto costs a fresh process 3-5 ms. Checked by
 * what each process loads (process.moduleLoadList, written at exit by a --require'd spy), not by time.
 * Runs the CLI and the plugin from dist/ (npm run build).
 */
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs } from '../helpers/ns.js'
import { PLUGIN, downNetwork, pluginMissing } from '../helpers/cni-runtime/index.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = join(root, 'dist/cli.cjs')
const skip = existsSync(cli) ? (pluginMissing() ?? false) : 'dist/ not built (npm run build)'

const dir = mkdtempSync(join(tmpdir(), 'kvz-nocrypto-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const spy = join(dir, 'spy.cjs')
// Spelt so that the spy's own source names no builtin it would load; it writes where KVZ_SPY_OUT says.
writeFileSync(spy, "process.on('exit', () => require('fs').writeFileSync(process.env.KVZ_SPY_OUT, JSON.stringify(process.moduleLoadList)))\n")

let runs = 0
/**
 * Runs `command` under `env -i` with PATH, `vars` and the spy's output file: a host's environment, and
 * not tap's (its process-info hook adds an ESM loader of its own to every child, which loads crypto).
 * Returns the process's result and the crypto modules it loaded.
 */
function spied(command: string[], vars: Record<string, string>, input?: string): { status: number | null; stderr: string; loaded: string[] } {
  const out = join(dir, `loaded-${runs++}.json`)
  const env = Object.entries({ PATH: process.env.PATH ?? '', KVZ_SPY_OUT: out, ...vars }).map(([k, v]) => `${k}=${v}`)
  const r = spawnSync('env', ['-i', ...env, ...command], { input, encoding: 'utf8' })
  const loaded = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as string[]).filter((m) => /crypto/.test(m)) : ['(no spy output)']
  return { status: r.status, stderr: r.stderr, loaded }
}
const node = [process.execPath, '-r', spy]

t.test('kvmnet up and down of a NAT network with a long name, a port and a forward load no crypto', { skip }, async (t) => {
  const host = await makeNs(t, 'kvz-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  // Longer than kvbr-<name> fits in 15 bytes: the bridge's name is hashed.
  const name = 'kvznocryptonet'
  t.teardown(() => downNetwork(host, name, stateRoot))
  const specFile = join(dir, 'nat.json')
  writeFileSync(specFile, JSON.stringify({ name, mode: 'nat', ipv4: { address: '10.233.7.1/24' }, dns: { enabled: false }, ports: [{ name: 'kvzp0' }], forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.233.7.2', guestPort: 80 }] }))
  for (const args of [['up', specFile], ['down', name]]) {
    const r = spied([...node, cli, ...args, '--netns', host.path, '--state-root', stateRoot], {})
    t.equal(r.status, 0, `kvmnet ${args[0]}: ${r.stderr.trim()}`)
    t.same(r.loaded, [], `kvmnet ${args[0]}: no crypto module loaded`)
  }
  const addr = execFileSync('ip', ['-n', host.name, '-o', 'link', 'show'], { encoding: 'utf8' })
  t.notMatch(addr, /kvbr-kvzno/, 'the network is down again')
})

t.test('kvmnet-cni ADD (network brought up, then up already) and DEL load no crypto', { skip }, async (t) => {
  const host = await makeNs(t, 'kvz-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const name = 'kvznocryptocni'
  t.teardown(() => downNetwork(host, name, stateRoot))
  const config = { cniVersion: '1.1.0', name, type: 'kvmnet-cni', stateRoot, network: { mode: 'nat', ipv4: { address: '10.233.8.1/24', dhcp: { range: ['10.233.8.10', '10.233.8.99'] } } } }
  const containers = [await makeNs(t, 'kvz-c'), await makeNs(t, 'kvz-c')]
  const plugin = (command: string, i: number, c: { path: string }) =>
    spied(['nsenter', `--net=${host.path}`, '--', ...node, PLUGIN], { CNI_COMMAND: command, CNI_CONTAINERID: `kvz${i}`, CNI_NETNS: c.path, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' }, JSON.stringify(config))
  for (const [i, c] of containers.entries()) {
    const r = plugin('ADD', i, c)
    t.equal(r.status, 0, `ADD ${i}: ${r.stderr.trim()}`)
    t.same(r.loaded, [], `ADD ${i} (${i === 0 ? 'brings the network up' : 'network already up'}): no crypto module loaded`)
  }
  for (const [i, c] of containers.entries()) {
    const r = plugin('DEL', i, c)
    t.equal(r.status, 0, `DEL ${i}: ${r.stderr.trim()}`)
    t.same(r.loaded, [], `DEL ${i}: no crypto module loaded`)
  }
})
