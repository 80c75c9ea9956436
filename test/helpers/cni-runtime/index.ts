/**
 * Running kvmnet-cni the way runtimes do: the built plugin (dist/cni.cjs, package.json's bin) invoked directly with the CNI
 * environment and the configuration on stdin, or through libcni — a minimal runtime (main.go) compiled at
 * test time from Debian's libcni source (golang-github-appc-cni-dev, GOPATH mode, offline). The plugin
 * runs inside a test namespace that stands in for the host (nsenter), so its network never touches the
 * root namespace.
 */
import { execa } from 'execa'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestNs } from '../ns.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
export const PLUGIN = join(root, 'dist/cni.cjs')
const LIBCNI = '/usr/share/gocode/src/github.com/containernetworking/cni/libcni'

/** The plugin is run from dist/ (what a CNI plugin directory links to): built by `npm run build`. */
export function pluginMissing(): string | undefined {
  return existsSync(PLUGIN) ? undefined : `${PLUGIN} not built (npm run build)`
}

interface Teardownable {
  teardown(fn: () => unknown): void
}

/** A temp directory removed at t.teardown. */
export function tempDir(t: Teardownable, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A CNI plugin directory (CNI_PATH) holding `kvmnet-cni`, a link to the built plugin; removed at t.teardown. */
export function pluginDir(t: Teardownable): string {
  const dir = tempDir(t, 'kvmnet-cni-bin-')
  symlinkSync(PLUGIN, join(dir, 'kvmnet-cni'))
  return dir
}

let built: Promise<string> | undefined

/**
 * The libcni runtime, compiled once per test process: GO111MODULE=off with Debian's GOPATH, no network
 * (GOPROXY=off, GOFLAGS cleared), a build cache shared between test files under the temp dir.
 */
export function buildRuntime(): Promise<string> {
  built ??= (async () => {
    if (!existsSync(LIBCNI)) throw new Error(`libcni source missing at ${LIBCNI} (Debian package golang-github-appc-cni-dev)`)
    const outDir = mkdtempSync(join(tmpdir(), 'kvmnet-cni-runtime-'))
    process.on('exit', () => rmSync(outDir, { recursive: true, force: true }))
    const out = join(outDir, 'cni-runtime')
    const cache = join(tmpdir(), 'kvmnet-cni-gocache')
    mkdirSync(cache, { recursive: true })
    await execa('go', ['build', '-o', out, join(root, 'test/helpers/cni-runtime/main.go')], {
      env: { GO111MODULE: 'off', GOPATH: `/usr/share/gocode:${join(tmpdir(), 'kvmnet-cni-gopath')}`, GOCACHE: cache, GOFLAGS: '', GOPROXY: 'off', CGO_ENABLED: '0' },
      timeout: 300_000,
    })
    return out
  })()
  return built
}

export interface PluginCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION'
  config: unknown
  containerId?: string
  netns?: string
  ifname?: string
  args?: string
  /** Extra environment (or undefined values to leave a variable out). */
  env?: Record<string, string | undefined>
}

export interface PluginRun {
  exitCode: number
  stdout: string
  stderr: string
  /** stdout parsed, when it is JSON. */
  json: unknown
  ms: number
}

/** kvmnet-cni invoked directly in `host`, as a runtime does: CNI_* in the environment, the configuration on stdin. */
export async function invokePlugin(host: TestNs, call: PluginCall): Promise<PluginRun> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifname,
    CNI_ARGS: call.args,
    CNI_PATH: '/opt/cni/bin',
    ...call.env,
  }
  const start = performance.now()
  const r = await execa('nsenter', [`--net=${host.path}`, '--', PLUGIN], {
    env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
    extendEnv: false,
    input: typeof call.config === 'string' ? call.config : JSON.stringify(call.config),
    reject: false,
    timeout: 120_000,
  })
  const ms = performance.now() - start
  let json: unknown
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined
  } catch {}
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), json, ms }
}

export interface RuntimeCall {
  op: 'add' | 'check' | 'del'
  /** A .conflist or a single plugin .conf, written by writeConf. */
  conf: string
  containerId: string
  netns: string
  ifname: string
  /** libcni capability arguments, e.g. { portMappings: [...] }. */
  capArgs?: Record<string, unknown>
  /** CNI_ARGS as libcni's RuntimeConf.Args ("K=V;K=V"). */
  args?: string
  binDir: string
  cacheDir: string
}

/** One libcni operation by the compiled runtime, run in `host`. */
export async function runtime(host: TestNs, bin: string, c: RuntimeCall): Promise<{ exitCode: number; stdout: string; stderr: string; json: unknown; ms: number }> {
  const start = performance.now()
  const r = await execa('nsenter', [`--net=${host.path}`, '--', bin, c.op, c.conf, c.containerId, c.netns, c.ifname], {
    env: {
      CNI_PATH: c.binDir,
      CNI_CACHE_DIR: c.cacheDir,
      ...(c.capArgs ? { CNI_CAP_ARGS: JSON.stringify(c.capArgs) } : {}),
      ...(c.args ? { CNI_RUNTIME_ARGS: c.args } : {}),
    },
    reject: false,
    timeout: 120_000,
  })
  let json: unknown
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined
  } catch {}
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), json, ms: performance.now() - start }
}

/** A configuration file for the runtime: `.conflist` when it has `plugins`, else a single `.conf`. */
export function writeConf(dir: string, name: string, conf: { plugins?: unknown[] } & Record<string, unknown>): string {
  const file = join(dir, `${name}.${conf.plugins ? 'conflist' : 'conf'}`)
  writeFileSync(file, JSON.stringify(conf, null, 2))
  return file
}

export { checkAddResult, checkErrorResult, checkVersionResult } from './schema.js'

/**
 * Take the network the plugin brought up in `host` down (the last DEL leaves it up, by design), for
 * t.teardown; nothing to do when it is not up.
 */
export async function downNetwork(host: TestNs, name: string, stateRoot: string): Promise<void> {
  const { openNetwork, NotFoundError } = await import('../../../src/index.js')
  try {
    const net = await openNetwork(name, { netns: host.name, stateRoot })
    await net.down()
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
}

/** The network's recorded spec (its state file), or undefined when it is not up. */
export async function recordedSpec(host: TestNs, name: string, stateRoot: string): Promise<Record<string, any> | undefined> {
  const { openNetwork, NotFoundError } = await import('../../../src/index.js')
  try {
    const net = await openNetwork(name, { netns: host.name, stateRoot })
    net.close()
    return net.spec as Record<string, any>
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}
