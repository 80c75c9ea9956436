/**
 * nft step of a NAT network's apply, three ways in one run on the same document (kvmnet's table for a
 * one-port NAT network with one forward, replaced whole, as every apply does), each in its own scratch
 * namespace, interleaved round by round:
 *   - kvmnet in process: Nft.apply through libnftables on the namespace's thread (render + JSON included);
 *   - the nft program: `nsenter --net=… nft -j -f doc.json`, what kvmnet's nft step was before;
 *   - the floor: libnftables from Python (python3-nftables), one reused context in a long-lived process
 *     inside the namespace, `json_cmd` timed inside Python, exactly as firewalld's nftables backend does.
 * Goal (issue 21): in process <= 3x the floor.
 *
 *   npx tsx benchmarks/nft-inprocess.ts [--quick]
 */
import { execa } from 'execa'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { Nft, renderRules } from '../src/nft/index.js'
import { benchRules } from './nft-apply.js'
import { median, type BenchRow } from './stats.js'

// One context for the life of the process; each request line is one timed json_cmd of the document.
const PYTHON = `
import json, sys, time, nftables
nft = nftables.Nftables()
nft.set_json_output(True)
doc = json.load(open(sys.argv[1]))
for line in sys.stdin:
    t0 = time.perf_counter()
    rc, out, err = nft.json_cmd(doc)
    ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"ms": ms, "rc": rc, "err": err}), flush=True)
`

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

export async function runNftInProcessBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const runs = opts.quick ? 10 : 60
  const names = ['k', 'p', 'y'].map((s) => `kvc-benchlib-${s}-${randomBytes(3).toString('hex')}`)
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-nftlib-bench-'))
  for (const n of names) await execa('ip', ['netns', 'add', n])
  const [k, p, y] = names.map((n) => `/run/netns/${n}`) as [string, string, string]
  const py = execa('nsenter', [`--net=${y}`, '--', '/usr/bin/python3', '-c', PYTHON, join(dir, 'doc.json')], { stdin: 'pipe', stdout: 'pipe', reject: false })
  try {
    const rules = benchRules(1)
    const docFile = join(dir, 'doc.json')
    await writeFile(docFile, JSON.stringify(renderRules(rules)))
    const nft = new Nft({ path: k }, { backend: 'libnftables' })
    const replies = createInterface({ input: py.stdout! })[Symbol.asyncIterator]()
    const pythonOnce = async (): Promise<number> => {
      py.stdin!.write('\n')
      const next = await replies.next()
      if (next.done) throw new Error(`python3-nftables ended: ${(await py).stderr}`)
      const r = JSON.parse(next.value) as { ms: number; rc: number; err: string }
      if (r.rc !== 0) throw new Error(`python3-nftables: ${r.err}`)
      return r.ms
    }
    const s = { k: [] as number[], kf: [] as number[], p: [] as number[], y: [] as number[] }
    // Round -1 warms each path (library, binary, modules, the contexts' caches) and is not counted.
    for (let i = -1; i < runs; i++) {
      // Each round's nft process is forked from this process (libuv spawns with fork()), which leaves its
      // pages copy-on-write: the next apply then faults on every page it writes, the V8 heap's and the
      // libnftables thread's (~360 faults, ~6 ms on a VM here; 24 without). The Python floor never forks.
      // So the apply is timed twice: first after the fork (that cost, reported apart), then again.
      const af = await timed(() => nft.apply(rules))
      const a = await timed(() => nft.apply(rules))
      const b = await timed(() => execa('nsenter', [`--net=${p}`, '--', 'nft', '-j', '-f', docFile]))
      const c = await pythonOnce()
      if (i < 0) continue
      s.k.push(a), s.kf.push(af), s.p.push(b), s.y.push(c)
    }
    nft.close()
    const [km, pm, ym] = [median(s.k), median(s.p), median(s.y)]
    const floor = 'libnftables from Python (python3-nftables, one context)'
    return [
      { name: 'nft step, NAT + 1 forward: in process', n: runs, kvmnetMs: km, baselineMs: ym, baseline: floor, ratio: km / ym, goal: '<= 3x' },
      { name: "  the same, the first apply after this process forked (copy-on-write faults, not kvmnet's)", n: runs, kvmnetMs: median(s.kf), baselineMs: ym, baseline: floor, ratio: median(s.kf) / ym },
      { name: 'nft step, NAT + 1 forward: nft -j -f process', n: runs, kvmnetMs: pm, baselineMs: ym, baseline: floor, ratio: pm / ym },
      { name: 'nft step, NAT + 1 forward: in process vs process', n: runs, kvmnetMs: km, baselineMs: pm, baseline: 'nsenter nft -j -f doc.json', ratio: km / pm },
    ]
  } finally {
    py.stdin?.end()
    await py
    for (const n of names) await execa('ip', ['netns', 'delete', n], { reject: false })
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runNftInProcessBench({ quick: process.argv.includes('--quick') })
  for (const r of rows) {
    console.log(`${r.name.padEnd(50)} n=${r.n}  kvmnet ${r.kvmnetMs.toFixed(3)} ms  ${r.baseline} ${r.baselineMs.toFixed(3)} ms  ratio ${r.ratio.toFixed(2)}x`)
  }
}
