/** Shared shapes and statistics of the benchmarks: every row is kvmnet beside a baseline run in the same process. */
export interface BenchRow {
  name: string
  n?: number
  /** kvmnet's median (ms unless `unit` says otherwise). */
  kvmnetMs: number
  /** The baseline's median, measured in the same run. */
  baselineMs: number
  baseline: string
  /** kvmnet / baseline. */
  ratio: number
  unit?: string
  /** `<= Nx` (a bound on the ratio) or `<= N ms` / `<= N MB` (on kvmnet's figure); see goalMet. */
  goal?: string
  /** Whether this run met the goal (set by run.ts from goalMet). */
  met?: boolean
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/**
 * Whether a row meets its goal: `<= Nx` is a bound on the ratio, `<= N ms` / `<= N MB` a bound on kvmnet's
 * own figure. Undefined for a row without a goal, or whose goal is not such a bound, or not measured.
 */
export function goalMet(r: Pick<BenchRow, 'goal' | 'ratio' | 'kvmnetMs' | 'unit'>): boolean | undefined {
  const m = /^<=\s*([\d.]+)\s*(x|ms|MB)$/.exec(r.goal?.trim() ?? '')
  if (!m) return undefined
  const bound = Number(m[1])
  const value = m[2] === 'x' ? r.ratio : r.kvmnetMs
  if (m[2] !== 'x' && m[2] !== (r.unit ?? 'ms')) return undefined
  if (value === null || value === undefined || !Number.isFinite(value)) return undefined
  return value <= bound
}

export function metLabel(met: boolean | undefined): string {
  return met === undefined ? '' : met ? 'met' : 'not met'
}
