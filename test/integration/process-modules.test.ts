/**
 * What a `kvmnet up`/`down` and a `kvmnet-cni` ADD/DEL process load of Node's own modules: none of those
 * it has no use for (each costs its compile on every start). node:net came with isIP and with the stdio
 * streams on a runtime's pipes, node:child_process with the tap attachment's tc, perf_hooks with the first
 * performance.now(); util's isIP, fd IO (cni/stdio.ts) and monotonicMs replace them. fs/promises (with
 * readline's interface and fs watchers, ~1.7 ms) came with the lease file and the attachment records: the
 * command bundles serve it from node:fs's callbacks (tsup.config.ts, fsPromisesOnCallbacks). A preloaded script
 * records process.moduleLoadList at exit; the CNI plugin gets pipes for stdin, stdout and stderr, as from a
 * runtime.
 */
import t from 'tap'
import { execa } from 'execa'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs } from '../helpers/ns.js'
import { downNetwork, invokePlugin, PLUGIN, pluginMissing } from '../helpers/cni-runtime/index.js'

const cli = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url))
const skip = pluginMissing() ?? false
const UNWANTED = ['net', 'child_process', 'dgram', 'perf_hooks', 'fs/promises']
/**
 * Each process is started through `env -i`: tap's process-info hook rides along in the NODE_OPTIONS of
 * whatever a test spawns (and loads child_process into it), whatever environment the spawn is given.
 */
const PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'

function scratch(): { dir: string; preload: string; list: (name: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-modules-'))
  const preload = join(dir, 'dump.cjs')
  writeFileSync(preload, "process.on('exit', () => require('fs').writeFileSync(process.env.KVMNET_TEST_MODULES, process.moduleLoadList.join('\\n')))\n")
  return { dir, preload, list: (name) => join(dir, `${name}.txt`) }
}

/** The node: modules (not internals) a run loaded that it should not have. */
function unwanted(file: string): string[] {
  const loaded = new Set(readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('NativeModule ')).map((l) => l.slice('NativeModule '.length)))
  return UNWANTED.filter((m) => loaded.has(m))
}

t.test('kvmnet up and down of a NAT network with a forward', { skip }, async (t) => {
  const s = scratch()
  t.teardown(() => rmSync(s.dir, { recursive: true, force: true }))
  const host = await makeNs(t, 'kvhp')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => downNetwork(host, 'kvhpmod', stateRoot))
  const spec = join(s.dir, 'spec.json')
  writeFileSync(spec, JSON.stringify({ name: 'kvhpmod', mode: 'nat', ipv4: { address: '10.236.0.1/24' }, dns: { enabled: false }, ports: [{ name: 'kvhpm0' }], forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.236.0.2', guestPort: 80 }] }))
  for (const [command, arg] of [['up', spec], ['down', 'kvhpmod']] as const) {
    // Output to pipes, as a supervisor or a shell pipeline gives it: written through fd 1 and 2, never
    // through process.stdout/stderr (a net.Socket on a pipe).
    const r = await execa('env', ['-i', `PATH=${PATH}`, `KVMNET_TEST_MODULES=${s.list(command)}`, 'node', '-r', s.preload, cli, command, arg, '--netns', host.path, '--state-root', stateRoot], { stdout: 'pipe', stderr: 'pipe' })
    t.match(r.stdout, command === 'up' ? /kvhpmod: up in/ : /kvhpmod: down in/, `kvmnet ${command} printed its result`)
    t.same(unwanted(s.list(command)), [], `kvmnet ${command}`)
  }
})

t.test('kvmnet-cni ADD and DEL of a veth attachment, stdio pipes', { skip }, async (t) => {
  const s = scratch()
  t.teardown(() => rmSync(s.dir, { recursive: true, force: true }))
  const host = await makeNs(t, 'kvhp')
  const c = await makeNs(t, 'kvhp')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => downNetwork(host, 'kvhpcni', stateRoot))
  const config = (hostPort: number) => ({
    cniVersion: '1.1.0',
    name: 'kvhpcni',
    type: 'kvmnet-cni',
    stateRoot,
    network: { mode: 'nat', ipv4: { address: '10.236.1.1/24', dhcp: { range: ['10.236.1.10', '10.236.1.20'] } }, dns: { enabled: false } },
    runtimeConfig: { portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp' }] },
  })
  // The first ADD brings the network up; the second, on a network that is up, is the one measured.
  const first = await makeNs(t, 'kvhp')
  t.equal((await invokePlugin(host, { command: 'ADD', config: config(8081), containerId: 'first', netns: first.path, ifname: 'eth0' })).exitCode, 0)
  for (const command of ['ADD', 'DEL'] as const) {
    const env = [`PATH=${PATH}`, `CNI_COMMAND=${command}`, 'CNI_CONTAINERID=mod', `CNI_NETNS=${c.path}`, 'CNI_IFNAME=eth0', 'CNI_PATH=/opt/cni/bin', `KVMNET_TEST_MODULES=${s.list(command)}`]
    const r = await execa('nsenter', [`--net=${host.path}`, '--', 'env', '-i', ...env, 'node', '-r', s.preload, PLUGIN], { input: JSON.stringify(config(8082)), reject: false })
    t.equal(r.exitCode, 0, `${command}: ${r.stderr}`)
    t.same(unwanted(s.list(command)), [], `kvmnet-cni ${command}`)
  }
  t.equal((await invokePlugin(host, { command: 'DEL', config: config(8081), containerId: 'first', netns: first.path, ifname: 'eth0' })).exitCode, 0)
})
