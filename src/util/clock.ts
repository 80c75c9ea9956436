/**
 * Milliseconds on the monotonic clock, for durations and deadlines within one process: what
 * performance.now() gives (up to its origin), without it. The first touch of the `performance` global
 * loads perf_hooks and ten internal modules behind it (~1 ms, measured 0.8-1.5 ms on a loaded 2-core host,
 * against 0.04 ms for process.hrtime) — paid by every `kvmnet` and `kvmnet-cni` process that takes a lock
 * or times a step.
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime()
  return s * 1e3 + ns / 1e6
}

/**
 * `new Date(ms).toISOString()` (UTC, millisecond precision), computed here: V8's first Date-to-text
 * conversion loads the local time zone (/etc/localtime read and parsed, ~0.25 ms) although an ISO time
 * needs none, and a `kvmnet up` stamps its state at its first apply. Years 0-9999 (what Date.now() gives).
 */
export function isoTime(ms: number = Date.now()): string {
  const days = Math.floor(ms / 86_400_000)
  const inDay = ms - days * 86_400_000
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted): eras of 400 years.
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  const h = Math.floor(inDay / 3_600_000)
  const m = Math.floor((inDay % 3_600_000) / 60_000)
  const s = Math.floor((inDay % 60_000) / 1000)
  return `${p(year, 4)}-${p(month)}-${p(day)}T${p(h)}:${p(m)}:${p(s)}.${p(inDay % 1000, 3)}Z`
}
