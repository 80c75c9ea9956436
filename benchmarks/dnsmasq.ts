/**
 * dnsmasq benchmarks, each a ratio against a baseline measured in the same run:
 *  - spawn -> ready: Dnsmasq.start() (socket tables in /proc, 5 ms polls) vs a shell that spawns dnsmasq
 *    and polls `ss` until the DHCP port is bound;
 *  - a new guest's first lease (busybox udhcpc in a guest namespace): kvmnet's config vs the same config
 *    with dnsmasq's defaults (ping probe before the offer, no rapid commit).
 * Runs as root in throwaway namespaces (prefix kvd-bench) that are always removed.
 * `npx tsx benchmarks/dnsmasq.ts [--quick]`
 */
import { execa } from 'execa'
import { median, type BenchRow } from './stats.js'
export type { BenchRow }
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Dnsmasq, dnsmasqPaths, renderConfig, type DnsmasqSpec } from '../src/dnsmasq/index.js'
import type { NetnsRef } from '../src/netns/ref.js'



function row(name: string, n: number, kvmnet: number[], baseline: number[], what: string, goal?: string): BenchRow {
  const k = median(kvmnet)
  const b = median(baseline)
  return { name, n, kvmnetMs: k, baselineMs: b, baseline: what, ratio: k / b, ...(goal ? { goal } : {}) }
}

async function withNs<T>(fn: (ns: NetnsRef & { name: string }) => Promise<T>): Promise<T> {
  const name = `kvd-bench-${randomBytes(3).toString('hex')}`
  await execa('ip', ['netns', 'add', name])
  try {
    await execa('ip', ['-n', name, '-batch', '-'], { input: 'link set lo up\nlink add br0 type bridge\naddr add 192.168.100.1/24 dev br0\nlink set br0 up' })
    return await fn({ path: `/run/netns/${name}`, name })
  } finally {
    await execa('ip', ['netns', 'delete', name], { reject: false })
  }
}

function spec(stateDir: string): DnsmasqSpec {
  return {
    network: 'bench',
    interface: 'br0',
    subnet: '192.168.100.0/24',
    hostAddress: '192.168.100.1',
    dhcp: { range: ['192.168.100.100', '192.168.100.250'], leaseTime: 600 },
    dns: { domain: 'bench.test' },
    stateDir,
  }
}

/** Spawn dnsmasq from bash and poll `ss` until UDP 67 is bound; ms from spawn to the READY line. */
async function shellSpawnAndPoll(ns: NetnsRef, conf: string): Promise<number> {
  const script = `dnsmasq --keep-in-foreground --conf-file=${conf} 2>/dev/null & p=$!
until ss -Hlnu 'sport = :67' | grep -q .; do sleep 0.01; done
echo READY $p; wait $p`
  const t0 = performance.now()
  const child = spawn('nsenter', [`--net=${ns.path}`, '--', 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'ignore'] })
  const { ms, pid } = await new Promise<{ ms: number; pid: number }>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /READY (\d+)/.exec(out)
      if (m) resolve({ ms: performance.now() - t0, pid: Number(m[1]) })
    })
    child.once('exit', () => reject(new Error(`baseline dnsmasq exited: ${out}`)))
  })
  process.kill(pid, 'SIGTERM')
  await new Promise((r) => child.once('exit', r))
  return ms
}

async function spawnReady(ns: NetnsRef, dir: string, n: number): Promise<BenchRow> {
  const kvmnet: number[] = []
  const baseline: number[] = []
  const baseDir = `${dir}/baseline`
  const paths = dnsmasqPaths(baseDir)
  mkdirSync(baseDir, { recursive: true })
  const r = renderConfig(spec(baseDir), paths)
  writeFileSync(paths.conf, r.conf)
  writeFileSync(paths.hostsFile, r.hostsFile)
  writeFileSync(paths.addnHosts, r.addnHosts)
  for (let i = 0; i < n; i++) {
    const d = new Dnsmasq(ns, spec(`${dir}/kvmnet`))
    const t0 = performance.now()
    await d.start()
    kvmnet.push(performance.now() - t0)
    await d.stop()
    baseline.push(await shellSpawnAndPoll(ns, paths.conf))
  }
  return row('dnsmasq spawn -> ready', n, kvmnet, baseline, 'bash: spawn dnsmasq, poll `ss` every 10 ms until UDP 67 is bound')
}

async function firstLease(ns: NetnsRef & { name: string }, dir: string, n: number): Promise<BenchRow> {
  const guest = `kvd-bench-g${randomBytes(3).toString('hex')}`
  await execa('ip', ['netns', 'add', guest])
  const scriptPath = `${dir}/udhcpc.sh`
  writeFileSync(scriptPath, '#!/bin/sh\n[ "$1" = bound ] && ip -4 addr replace "$ip/$mask" dev "$interface"\nexit 0\n', { mode: 0o755 })
  try {
    await execa('ip', ['-n', ns.name, 'link', 'add', 'vbench', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', guest])
    await execa('ip', ['-n', ns.name, 'link', 'set', 'vbench', 'master', 'br0', 'up'])
    await execa('ip', ['-n', guest, 'link', 'set', 'eth0', 'up'])
    const lease = async (): Promise<number> => {
      // A MAC dnsmasq has never seen: a first lease, with whatever checks a new address gets.
      const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`
      await execa('ip', ['-n', guest, 'link', 'set', 'eth0', 'address', mac])
      await execa('ip', ['-n', guest, '-4', 'addr', 'flush', 'dev', 'eth0'])
      const t0 = performance.now()
      const r = await execa('nsenter', [`--net=/run/netns/${guest}`, '--', 'busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', scriptPath], { reject: false })
      const ms = performance.now() - t0
      if (r.exitCode !== 0) throw new Error(`udhcpc failed: ${r.stderr}`)
      return ms
    }
    const kvmnet: number[] = []
    const baseline: number[] = []
    const d = new Dnsmasq(ns, spec(`${dir}/kvmnet`))
    await d.start()
    try {
      for (let i = 0; i < n; i++) kvmnet.push(await lease())
    } finally {
      await d.stop()
    }
    // Same config minus kvmnet's fast-lease options: dnsmasq's defaults.
    const baseDir = `${dir}/defaults`
    const paths = dnsmasqPaths(baseDir)
    mkdirSync(baseDir, { recursive: true })
    const r = renderConfig(spec(baseDir), paths)
    writeFileSync(paths.conf, r.conf.replace(/^(no-ping|dhcp-rapid-commit)\n/gm, ''))
    writeFileSync(paths.hostsFile, r.hostsFile)
    writeFileSync(paths.addnHosts, r.addnHosts)
    const child = spawn('nsenter', [`--net=${ns.path}`, '--', 'dnsmasq', '--keep-in-foreground', `--conf-file=${paths.conf}`], { stdio: 'ignore' })
    try {
      for (let tries = 0; tries < 200; tries++) {
        const ss = await execa('ip', ['netns', 'exec', ns.name, 'ss', '-Hlnu', 'sport = :67'])
        if (ss.stdout.trim()) break
        await new Promise((res) => setTimeout(res, 10))
      }
      for (let i = 0; i < n; i++) baseline.push(await lease())
    } finally {
      child.kill('SIGTERM')
      await new Promise((res) => child.once('exit', res))
    }
    return row('first DHCP lease (busybox udhcpc)', n, kvmnet, baseline, 'dnsmasq defaults: ping probe before the offer, no rapid commit', '<= 150 ms')
  } finally {
    await execa('ip', ['netns', 'delete', guest], { reject: false })
  }
}

export async function runDnsmasqBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const dir = `/run/kvmnet-bench-${randomBytes(3).toString('hex')}`
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  try {
    return await withNs(async (ns) => [await spawnReady(ns, dir, opts.quick ? 3 : 10), await firstLease(ns, dir, opts.quick ? 2 : 5)])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runDnsmasqBench({ quick: process.argv.includes('--quick') })
  for (const r of rows) {
    console.log(`${r.name}: kvmnet ${r.kvmnetMs.toFixed(1)} ms, baseline ${r.baselineMs.toFixed(1)} ms (${r.baseline}), ratio ${r.ratio.toFixed(2)} (n=${r.n})`)
  }
}
