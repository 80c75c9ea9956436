/**
 * What the host must have for kvmnet at run time (README "What the host needs at run time"), checked
 * without changing anything: kernel features from the kernel's own config (/proc/config.gz,
 * /boot/config-RELEASE), /proc/modules, /sys/module and /lib/modules/RELEASE (never by loading a module or
 * making a link); programs by PATH, the way kvmnet itself runs them; libnftables by dlopen in a short-lived
 * child process (the doctor's own process stays as it was); permissions from /proc/self/status.
 */
import { constants, existsSync } from 'node:fs'
import { access, readdir, readFile } from 'node:fs/promises'
import { constants as osConstants } from 'node:os'
import { delimiter, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { runProgram } from '../util/index.js'
import type { Finding } from './findings.js'

export interface HostCheck {
  /** What is required, as the README lists it: 'kernel: nf_tables', 'program: dnsmasq', 'libnftables.so.1'. */
  requirement: string
  /** 'unknown': nothing on this host tells (no kernel config, no /lib/modules): a warning, not an error. */
  status: 'ok' | 'missing' | 'unknown' | 'untested'
  /** Needed only by this command (`kvmnet demo`): missing, it is a warning. */
  only?: string | undefined
  /** What was found: where, which version, or why it counts as missing. */
  found: string
  /** The Debian package that brings it. */
  package: string
}

/** Kernel features kvmnet uses: the config symbol, and the module that carries it when it is one. */
export const KERNEL_FEATURES: { name: string; config: string; module?: string }[] = [
  { name: 'network namespaces', config: 'NET_NS' },
  { name: 'nf_tables', config: 'NF_TABLES', module: 'nf_tables' },
  { name: 'nf_tables inet family', config: 'NF_TABLES_INET' },
  { name: 'nf_tables bridge family', config: 'NF_TABLES_BRIDGE' },
  { name: 'nft conntrack (ct state)', config: 'NFT_CT', module: 'nft_ct' },
  { name: 'nft NAT', config: 'NFT_NAT', module: 'nft_nat' },
  { name: 'nft masquerade', config: 'NFT_MASQ', module: 'nft_masq' },
  { name: 'nft reject', config: 'NFT_REJECT', module: 'nft_reject' },
  { name: 'bridge', config: 'BRIDGE', module: 'bridge' },
  { name: 'veth', config: 'VETH', module: 'veth' },
  { name: 'tun/tap', config: 'TUN', module: 'tun' },
  { name: 'macvlan', config: 'MACVLAN', module: 'macvlan' },
  { name: 'macvtap', config: 'MACVTAP', module: 'macvtap' },
  { name: 'vxlan', config: 'VXLAN', module: 'vxlan' },
  { name: 'tc HTB qdisc', config: 'NET_SCH_HTB', module: 'sch_htb' },
  { name: 'tc ingress qdisc', config: 'NET_SCH_INGRESS', module: 'sch_ingress' },
  { name: 'tc u32 classifier', config: 'NET_CLS_U32', module: 'cls_u32' },
  { name: 'tc mirred action', config: 'NET_ACT_MIRRED', module: 'act_mirred' },
  { name: 'IFB device', config: 'IFB', module: 'ifb' },
]

/**
 * Programs kvmnet runs, by PATH; `version` is the argument that prints a version on the first line.
 * `only`: the one command that runs it (a missing one is a warning, not an error): links, addresses,
 * routes and traffic control go over rtnetlink, so only `kvmnet demo`'s lab runs ip and ss.
 */
export const HOST_PROGRAMS: { name: string; package: string; version?: string; only?: string }[] = [
  { name: 'ip', package: 'iproute2', version: '-V', only: 'kvmnet demo' },
  { name: 'ss', package: 'iproute2', only: 'kvmnet demo' },
  { name: 'nft', package: 'nftables', version: '--version' },
  { name: 'dnsmasq', package: 'dnsmasq-base', version: '--version' },
  { name: 'nsenter', package: 'util-linux' },
]

/** The versions kvmnet's tests run against (Debian 12); older ones are reported as 'untested'. */
export const TESTED_VERSIONS = { node: '20', dnsmasq: '2.90', nftables: '1.0.6', iproute2: '6.1.0' } as const

const CAP_NET_ADMIN = 12
const CAP_SYS_ADMIN = 21
/** glibc's and musl's RTLD_NODELETE (<dlfcn.h>); os.constants.dlopen does not export it. */
const RTLD_NODELETE = 0x1000

export interface KernelFacts {
  release: string
  config: Map<string, string> | undefined
  configFrom: string | undefined
  loaded: Set<string>
  /** /sys/module's entries: loaded modules and built-in ones that have parameters. */
  sysModules: Set<string>
  /** Module name -> 'builtin' | 'module', from /lib/modules/RELEASE; undefined when that directory is absent. */
  installed: Map<string, 'builtin' | 'module'> | undefined
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if (err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOTDIR')) return undefined
    throw err
  }
}

function moduleName(path: string): string {
  return (path.split('/').pop() ?? '').replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_')
}

async function kernelFacts(): Promise<KernelFacts> {
  const release = (await readText('/proc/sys/kernel/osrelease'))?.trim() ?? ''
  let config: Map<string, string> | undefined
  let configFrom: string | undefined
  const gz = await readFile('/proc/config.gz').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  const text = gz ? gunzipSync(gz).toString('utf8') : await readText(`/boot/config-${release}`)
  if (text !== undefined) {
    configFrom = gz ? '/proc/config.gz' : `/boot/config-${release}`
    config = new Map()
    for (const m of text.matchAll(/^CONFIG_([A-Z0-9_]+)=(\S+)$/gm)) config.set(m[1]!, m[2]!)
  }
  const loaded = new Set(((await readText('/proc/modules')) ?? '').split('\n').map((l) => l.split(' ')[0]!).filter(Boolean))
  const sysModules = new Set(await readdir('/sys/module').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  }))
  const dir = `/lib/modules/${release}`
  let installed: KernelFacts['installed']
  if (release && existsSync(dir)) {
    installed = new Map()
    for (const l of ((await readText(join(dir, 'modules.builtin'))) ?? '').split('\n')) if (l) installed.set(moduleName(l), 'builtin')
    for (const l of ((await readText(join(dir, 'modules.dep'))) ?? '').split('\n')) if (l) installed.set(moduleName(l.split(':')[0]!), 'module')
  }
  return { release, config, configFrom, loaded, sysModules, installed }
}

export function kernelCheck(f: KernelFacts, feature: (typeof KERNEL_FEATURES)[number], kernelPackage: string): HostCheck {
  const requirement = `kernel: ${feature.name}`
  const result = (status: HostCheck['status'], found: string): HostCheck => ({ requirement, status, found, package: kernelPackage })
  const sym = `CONFIG_${feature.config}`
  const mod = feature.module
  if (mod && f.loaded.has(mod)) return result('ok', `module ${mod} loaded`)
  const value = f.config?.get(feature.config)
  if (f.config) {
    if (value === 'y') return result('ok', `built in (${sym}=y)`)
    if (value !== 'm') return result('missing', `${sym} is not set in ${f.configFrom}`)
    if (!mod) return result('ok', `${sym}=m (part of a module loaded on first use)`)
    const where = f.installed?.get(mod)
    if (where) return result('ok', `module ${mod}, loaded on first use`)
    if (!f.installed) return result('unknown', `${sym}=m, but /lib/modules/${f.release} is absent`)
    return result('missing', `${sym}=m, but ${mod} is not in /lib/modules/${f.release}`)
  }
  if (mod && f.sysModules.has(mod)) return result('ok', `/sys/module/${mod}`)
  const where = mod ? f.installed?.get(mod) : undefined
  if (where === 'builtin') return result('ok', `built in (${mod} in modules.builtin)`)
  if (where === 'module') return result('ok', `module ${mod}, loaded on first use`)
  if (f.installed && mod) return result('missing', `${mod} is neither built in nor in /lib/modules/${f.release}`)
  return result('unknown', `no kernel config (/proc/config.gz, /boot/config-${f.release}) to tell`)
}

async function onPath(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const file = join(dir, cmd)
    try {
      await access(file, constants.X_OK)
      return file
    } catch (err) {
      // Not here (or not executable here): the next PATH entry may have it.
      if (err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOTDIR')) continue
      throw err
    }
  }
  return undefined
}

/** a < b for dotted numeric versions ('2.85' < '2.89'). */
function older(a: string, b: string): boolean {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d < 0
  }
  return false
}

async function programCheck(p: (typeof HOST_PROGRAMS)[number]): Promise<HostCheck> {
  const check = await programFound(p)
  return p.only ? { ...check, requirement: `${check.requirement} (${p.only})`, only: p.only } : check
}

async function programFound(p: (typeof HOST_PROGRAMS)[number]): Promise<HostCheck> {
  const requirement = `program: ${p.name}`
  const file = await onPath(p.name)
  if (!file) return { requirement, status: 'missing', found: `not on PATH (${process.env.PATH ?? ''})`, package: p.package }
  if (!p.version) return { requirement, status: 'ok', found: file, package: p.package }
  const r = await runProgram(file, [p.version], { timeoutMs: 10_000, env: { LC_ALL: 'C' } })
  const first = r.stdout.split('\n')[0]?.trim() ?? ''
  const version = first.match(/(\d+\.\d+(?:\.\d+)?)/)?.[1]
  if (r.exitCode !== 0 || !version) return { requirement, status: 'missing', found: `${file} does not run (${p.version} exited ${r.exitCode}): ${(r.stderr || first).trim()}`, package: p.package }
  const tested = p.package === 'dnsmasq-base' ? TESTED_VERSIONS.dnsmasq : p.package === 'nftables' ? TESTED_VERSIONS.nftables : TESTED_VERSIONS.iproute2
  return { requirement, status: older(version, tested) ? 'untested' : 'ok', found: `${file} ${version}${older(version, tested) ? ` (older than the tested ${tested})` : ''}`, package: p.package }
}

// Runs in a child node: dlopen with RTLD_NODELETE keeps the library mapped after process.dlopen gives up on
// it (it is no addon), so /proc/self/maps shows whether, and from where, it was loaded.
// A function, not a constant: node:os is loaded when doctor runs, not with kvmnet.
const dlopenChild = (): string => `
let error = ''
try { process.dlopen({ exports: {} }, 'libnftables.so.1', ${osConstants.dlopen.RTLD_LAZY} | ${RTLD_NODELETE}) } catch (e) { error = String(e && e.message) }
const line = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => /\\/libnftables\\.so\\.1[^/]*$/.test(l))
process.stdout.write(JSON.stringify({ path: line ? line.split(/\\s+/).pop() : undefined, error }))
`

async function libnftablesCheck(): Promise<HostCheck> {
  const requirement = 'library: libnftables.so.1'
  const r = await runProgram(process.execPath, ['-e', dlopenChild()], { timeoutMs: 10_000 })
  let answer: { path?: string; error?: string } = {}
  try {
    answer = JSON.parse(r.stdout) as typeof answer
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err
    return { requirement, status: 'unknown', found: `the dlopen check did not answer (exit ${r.exitCode}): ${r.stderr.trim()}`, package: 'libnftables1' }
  }
  if (answer.path) return { requirement, status: 'ok', found: answer.path, package: 'libnftables1' }
  return { requirement, status: 'missing', found: `dlopen failed: ${answer.error ?? 'no reason given'}`, package: 'libnftables1' }
}

async function permissionCheck(): Promise<HostCheck> {
  const status = (await readText('/proc/self/status')) ?? ''
  const eff = BigInt(`0x${status.match(/^CapEff:\s*([0-9a-f]+)/m)?.[1] ?? '0'}`)
  const has = (bit: number) => (eff & (1n << BigInt(bit))) !== 0n
  const who = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.() ?? '?'}`
  const caps = [has(CAP_NET_ADMIN) ? 'CAP_NET_ADMIN' : '', has(CAP_SYS_ADMIN) ? 'CAP_SYS_ADMIN' : ''].filter(Boolean).join(', ')
  const found = `${who}${caps ? ` with ${caps}` : ', without CAP_NET_ADMIN'}${has(CAP_NET_ADMIN) && !has(CAP_SYS_ADMIN) ? ' (named network namespaces also need CAP_SYS_ADMIN)' : ''}`
  return { requirement: 'permission: root or CAP_NET_ADMIN', status: has(CAP_NET_ADMIN) ? 'ok' : 'missing', found, package: '-' }
}

function nodeCheck(): HostCheck {
  const v = process.versions.node
  return { requirement: `Node.js >= ${TESTED_VERSIONS.node}`, status: older(v, TESTED_VERSIONS.node) ? 'missing' : 'ok', found: `${process.execPath} ${v}`, package: `nodejs ${TESTED_VERSIONS.node}.x (NodeSource; Debian 12's is 18)` }
}

function kernelPackage(): string {
  return `linux-image-${process.arch === 'arm64' ? 'arm64' : process.arch === 'x64' ? 'amd64' : process.arch}`
}

/** Every run-time requirement, in the README's order. */
export async function hostChecks(): Promise<HostCheck[]> {
  const facts = await kernelFacts()
  const kernel = KERNEL_FEATURES.map((k) => kernelCheck(facts, k, kernelPackage()))
  const programs = await Promise.all(HOST_PROGRAMS.map(programCheck))
  return [nodeCheck(), await permissionCheck(), ...kernel, await libnftablesCheck(), ...programs]
}

/** A finding per requirement that is not met: missing ones are errors, unknown or untested ones warnings. */
export function hostFindings(checks: HostCheck[]): Finding[] {
  return checks
    .filter((c) => c.status !== 'ok')
    .map((c) => ({
      code: 'host-requirement' as const,
      severity: c.status === 'missing' && !c.only ? ('error' as const) : ('warning' as const),
      object: c.requirement,
      problem: c.status === 'missing' ? `${c.requirement} is missing: ${c.found}${c.only ? `; only ${c.only} needs it` : ''}` : c.status === 'untested' ? `${c.requirement}: ${c.found}` : `${c.requirement} cannot be checked: ${c.found}`,
      fix: c.requirement.startsWith('permission') ? 'run as root, or give the process CAP_NET_ADMIN' : c.requirement.startsWith('kernel') ? `a kernel with it (Debian: ${c.package})` : `apt-get install ${c.package}`,
    }))
}
