/**
 * `npm run bench [-- --quick] [-- --only rtnl,nft,nftlib,dnsmasq,network,peers,cni,heal,startup,bandwidth,addresses]`:
 * every benchmark side by side with its baseline in one run, in scratch namespaces. Prints a table of
 * medians and ratios, each goal with whether this run met it, and writes the rows as JSON to
 * benchmarks/results/ (`npm run bench:readme` turns latest.json into the README's table). Benchmarks are
 * never assertions: goals are reported, not enforced.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { goalMet, metLabel, type BenchRow } from './stats.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const onlyArg = args.find((a) => a.startsWith('--only='))?.slice(7) ?? (args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined)
const only = onlyArg ? new Set(onlyArg.split(',')) : undefined

type Suite = (o: { quick: boolean }) => Promise<BenchRow[]>
// Loaded only when selected, so `--only nft` does not pay for (or depend on) the others.
const suites: [string, () => Promise<Suite>][] = [
  ['rtnl', async () => (await import('./rtnl-links.js')).runRtnlBench],
  ['nft', async () => (await import('./nft-apply.js')).runNftBench],
  ['nftlib', async () => (await import('./nft-inprocess.js')).runNftInProcessBench],
  ['dnsmasq', async () => (await import('./dnsmasq.js')).runDnsmasqBench],
  ['network', async () => (await import('./network.js')).runNetworkBench],
  ['peers', async () => (await import('./peers.js')).runPeersBench],
  ['cni', async () => (await import('./cni.js')).runCniBench],
  ['heal', async () => (await import('./heal.js')).runHealBench],
  ['startup', async () => (await import('./startup.js')).runStartupBench],
  ['bandwidth', async () => (await import('./bandwidth.js')).runBandwidthBench],
  ['addresses', async () => (await import('./addresses.js')).runAddressesBench],
]

function fmt(v: number, unit = 'ms'): string {
  if (!Number.isFinite(v)) return '-'
  return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ${unit}`
}

// Every Node process this run starts (kvmnet, kvmnet-cni, the `node -e 0` baselines) starts without
// NODE_EXTRA_CA_CERTS: a machine that sets it (this one points it at the whole system bundle) has every
// Node start parse ~140 KB of PEM first, ~50-150 ms that belong to neither kvmnet nor its peers, and
// that a systemd unit or a CNI runtime's clean environment does not pass on. Said in the results.
const strippedEnv = ['NODE_EXTRA_CA_CERTS'].filter((k) => process.env[k] !== undefined)
for (const k of strippedEnv) delete process.env[k]

const rows: BenchRow[] = []
const started = new Date()
// The machine's load when the run began and ended: the figures are only as quiet as the machine was.
const loadBefore = loadavg()
for (const [name, load] of suites) {
  if (only && !only.has(name)) continue
  const run = await load()
  process.stderr.write(`bench: ${name}${quick ? ' (quick)' : ''}...\n`)
  const t0 = performance.now()
  rows.push(...(await run({ quick })))
  process.stderr.write(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
}

for (const r of rows) {
  const met = goalMet(r)
  if (met !== undefined) r.met = met
}
const header = ['benchmark', 'kvmnet', 'baseline', 'ratio', 'goal', 'met', 'baseline is']
const body = rows.map((r) => [r.name, fmt(r.kvmnetMs, r.unit), fmt(r.baselineMs, r.unit), Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : '-', r.goal ?? '', metLabel(r.met), r.baseline])
const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`
console.log(line(header))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const b of body) console.log(line(b))

const dir = fileURLToPath(new URL('./results/', import.meta.url))
await mkdir(dir, { recursive: true })
const out = { date: started.toISOString(), quick, only: only ? [...only] : undefined, strippedEnv, node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: { before: loadBefore, after: loadavg() }, rows }
await writeFile(`${dir}${started.toISOString().replace(/[:.]/g, '-')}.json`, `${JSON.stringify(out, null, 2)}\n`)
// A smoke or partial run must not replace the full run the README quotes.
await writeFile(`${dir}${quick || only ? 'latest-partial' : 'latest'}.json`, `${JSON.stringify(out, null, 2)}\n`)
