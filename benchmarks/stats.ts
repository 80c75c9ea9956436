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
  goal?: string
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
