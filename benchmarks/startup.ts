/**
 * Fixed costs a user pays before any work: each CLI command's start-up and the library's import, beside a
 * bare `node -e 0` in the same loop (interleaved, so load on the machine hits both alike). Resident memory
 * at load is read by the processes themselves.
 */
import { execa } from 'execa'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Netns } from '../src/index.js'
import { median, type BenchRow } from './stats.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
// The program npm installs as `kvmnet` (package.json's bin).
const cli = join(repo, (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.kvmnet ?? 'dist/cli.cjs')
const rssOf = 'process.stdout.write(String(process.memoryUsage().rss / 2 ** 20))'

async function wall(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now()
  await execa(cmd, args, { cwd: repo })
  return performance.now() - t0
}

export async function runStartupBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const runs = opts.quick ? 5 : 15
  const empty = await Netns.create({ prefix: 'kvbsu' })
  const cases: [string, string[], string][] = [
    ['`kvmnet --help`', [cli, '--help'], '<= 1.3x'],
    ['`kvmnet --version`', [cli, '--version'], '<= 1.3x'],
    ['`kvmnet up --help`', [cli, 'up', '--help'], '<= 1.3x'],
    ['`kvmnet status` (namespace without networks)', [cli, 'status', '--netns', empty.path, '--state-root', '/run/kvmnet-bench-empty'], '<= 1.3x'],
    ['`require("kvmnet")` (CJS)', ['-e', `require(${JSON.stringify(`${repo}dist/index.cjs`)})`], '<= 1.25x'],
  ]
  const times = cases.map(() => [] as number[])
  const bare: number[] = []
  // An ESM program pays for Node's ESM loader whatever it imports: its import of kvmnet is set beside a bare
  // ESM program, as the CommonJS one is beside a bare CommonJS one.
  const esmImport = ['--input-type=module', '-e', `await import(${JSON.stringify(`${repo}dist/index.js`)})`]
  const esm: number[] = []
  const bareEsm: number[] = []
  // The floor under import('kvmnet'): Node's ESM loader importing a file at all (resolve, read, link), an
  // empty ES module's import beside the same bare program. No goal: it says how much of the row above is Node's.
  const scratch = mkdtempSync(join(tmpdir(), 'kvmnet-bench-esm-'))
  const emptyModule = join(scratch, 'empty.mjs')
  writeFileSync(emptyModule, 'export {}\n')
  const emptyEsm: number[] = []
  // Likewise under require('kvmnet'): Node's CommonJS loader requiring a file at all (an empty one) beside
  // `node -e 0`, which requires none (~5M instructions of ~78M under cachegrind, 2026-12-06).
  const emptyScript = join(scratch, 'empty.cjs')
  writeFileSync(emptyScript, '\n')
  const emptyCjs: number[] = []
  const rss = { bare: [] as number[], esm: [] as number[] }
  try {
    for (let i = 0; i < runs; i++) {
      bare.push(await wall('node', ['-e', '0']))
      for (const [j, c] of cases.entries()) times[j]?.push(await wall('node', c[1]))
      emptyCjs.push(await wall('node', ['-e', `require(${JSON.stringify(emptyScript)})`]))
      bareEsm.push(await wall('node', ['--input-type=module', '-e', 'await 0']))
      esm.push(await wall('node', esmImport))
      emptyEsm.push(await wall('node', ['--input-type=module', '-e', `await import(${JSON.stringify(emptyModule)})`]))
      rss.bare.push(Number((await execa('node', ['-e', rssOf])).stdout))
      rss.esm.push(Number((await execa('node', ['--input-type=module', '-e', `await import(${JSON.stringify(`${repo}dist/index.js`)}); ${rssOf}`])).stdout))
    }
  } finally {
    await empty.delete()
    rmSync(scratch, { recursive: true, force: true })
  }
  const b = median(bare)
  const rows: BenchRow[] = cases.map((c, j) => ({ name: `start-up: ${c[0]}`, kvmnetMs: median(times[j] ?? []), baselineMs: b, baseline: 'node -e 0', ratio: median(times[j] ?? []) / b, goal: c[2] }))
  rows.push({ name: 'start-up: `require()` of an empty CommonJS file (Node\'s floor for the `require("kvmnet")` row)', kvmnetMs: median(emptyCjs), baselineMs: b, baseline: 'node -e 0', ratio: median(emptyCjs) / b })
  rows.push({ name: 'start-up: `import("kvmnet")` (ESM)', kvmnetMs: median(esm), baselineMs: median(bareEsm), baseline: 'node --input-type=module -e "await 0"', ratio: median(esm) / median(bareEsm), goal: '<= 1.25x' })
  rows.push({ name: 'start-up: `import()` of an empty ES module (Node\'s floor for the row above)', kvmnetMs: median(emptyEsm), baselineMs: median(bareEsm), baseline: 'node --input-type=module -e "await 0"', ratio: median(emptyEsm) / median(bareEsm) })
  const r = median(rss.esm)
  const rb = median(rss.bare)
  rows.push({ name: 'RSS at load: import("kvmnet")', kvmnetMs: r, baselineMs: rb, baseline: 'RSS of node -e (bare)', ratio: r / rb, unit: 'MB', goal: '<= 1.25x' })
  return rows
}
