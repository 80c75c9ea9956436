/**
 * `npm run bench:readme [-- FILE]`: the README's performance table regenerated from a results file
 * (benchmarks/results/latest.json, what a full `npm run bench` writes), between the markers
 * `<!-- bench-table:begin -->` and `<!-- bench-table:end -->`. Each row with a goal says whether that run
 * met it; the reasons for the misses are the prose after the table, which is written by hand.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { goalMet, metLabel, type BenchRow } from './stats.js'

interface Results {
  date: string
  quick: boolean
  only?: string[]
  node: string
  cpus: number
  cpu?: string
  loadavg?: { before: number[]; after: number[] }
  /** Variables removed from the environment of every process the run started (run.ts says why). */
  strippedEnv?: string[]
  rows: BenchRow[]
}

const BEGIN = '<!-- bench-table:begin -->'
const END = '<!-- bench-table:end -->'

function fmt(v: number | null, unit = 'ms'): string {
  if (v === null || !Number.isFinite(v)) return '—'
  return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ${unit}`
}

/** The table (and the line saying where and when it was measured) for one results file. */
export function renderTable(r: Results): string {
  const load = r.loadavg ? `, load average ${r.loadavg.before[0]!.toFixed(2)} at the start and ${r.loadavg.after[0]!.toFixed(2)} at the end` : ''
  const env = r.strippedEnv?.length ? `; every Node process started without ${r.strippedEnv.join(', ')} (set on this machine: see benchmarks/run.ts)` : ''
  const partial = r.quick || r.only ? ` (a partial run${r.quick ? ', --quick' : ''}${r.only ? `, --only ${r.only.join(',')}` : ''}: not the full run the goals are judged on)` : ''
  const lines = [
    `Measured ${r.date.slice(0, 10)} on ${r.cpus} cores (${r.cpu ?? 'unknown CPU'}), Node ${r.node}${load}${env}${partial}:`,
    '',
    '| benchmark | kvmnet | baseline (same run) | ratio | goal | met |',
    '|---|---|---|---|---|---|',
  ]
  for (const row of r.rows) {
    const ratio = row.ratio === null || !Number.isFinite(row.ratio) ? '—' : `${row.ratio.toFixed(2)}×`
    const goal = (row.goal ?? '').replace(/^<=\s*/, '≤ ').replace(/x$/, '×')
    const met = metLabel(row.met ?? goalMet(row))
    lines.push(`| ${row.name} | ${fmt(row.kvmnetMs, row.unit)} | ${fmt(row.baselineMs, row.unit)} (${row.baseline}) | ${ratio} | ${goal} | ${met} |`)
  }
  return lines.join('\n')
}

/** README text with the table between the markers replaced. */
export function replaceTable(readme: string, table: string): string {
  const b = readme.indexOf(BEGIN)
  const e = readme.indexOf(END)
  if (b < 0 || e < b) throw new Error(`README.md has no ${BEGIN} … ${END} section`)
  return `${readme.slice(0, b + BEGIN.length)}\n${table}\n${readme.slice(e)}`
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2] ?? fileURLToPath(new URL('./results/latest.json', import.meta.url))
  const readmePath = fileURLToPath(new URL('../README.md', import.meta.url))
  const results = JSON.parse(await readFile(file, 'utf8')) as Results
  await writeFile(readmePath, replaceTable(await readFile(readmePath, 'utf8'), renderTable(results)))
  process.stderr.write(`README.md: performance table from ${file} (${results.rows.length} rows, ${results.date})\n`)
}
