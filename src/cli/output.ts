/** What the CLI prints: lines, aligned columns (podman/virsh style), reports, and errors. */
import type { ApplyReport } from '../network/index.js'
import { stepLabel, writeStdout } from '../util/index.js'

export function out(s: string): void {
  writeStdout(s.endsWith('\n') ? s : `${s}\n`)
}

/** Columns padded to their widest cell, two spaces apart, headers in capitals; no borders. */
export function renderColumns(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n')
}

export function ms(n: number): string {
  return n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(1)} ms`
}

export function printReport(r: ApplyReport, json: boolean, timings: boolean, verb: string): void {
  if (json) return out(JSON.stringify(r, null, 2))
  out(`${r.network}: ${verb} in ${ms(r.totalMs)}`)
  if (timings) out(renderColumns(['step', 'category', 'outcome', 'time'], r.steps.map((s) => [stepLabel(s), s.category, s.outcome, ms(s.ms)])))
}
