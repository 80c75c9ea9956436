/**
 * isoTime (src/util/clock.ts) is Date#toISOString computed without V8's Date (whose first conversion to
 * text loads the local time zone): the same text for every instant a state can be stamped with.
 */
import t from 'tap'
import { isoTime } from '../../src/util/index.js'

t.test('the same text as Date#toISOString', async (t) => {
  const edges = [
    0, 1, 999, 1000, 86_399_999, 86_400_000, -1, -86_400_000, // around the epoch
    Date.UTC(2000, 1, 28, 23, 59, 59, 999), Date.UTC(2000, 1, 29), Date.UTC(2000, 2, 1), // 2000 is a leap year
    Date.UTC(1900, 1, 28), Date.UTC(1900, 2, 1), Date.UTC(2100, 1, 28, 12), Date.UTC(2100, 2, 1), // these are not
    Date.UTC(2024, 11, 31, 23, 59, 59, 999), Date.UTC(2025, 0, 1), Date.UTC(1600, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    Date.UTC(0, 0, 1) - Date.UTC(1900, 0, 1) + Date.UTC(1900, 0, 1), // year 1900 via Date.UTC's two-digit rule
  ]
  for (const ms of edges) t.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
  // Every day of 1968-2104 at a time of day that moves, and random instants in years 0-9999.
  let bad = 0
  for (let d = -700; d < 49_000; d++) {
    const ms = d * 86_400_000 + ((d * 7_919_000 + 123) % 86_400_000)
    if (isoTime(ms) !== new Date(ms).toISOString()) bad++
  }
  const lo = Date.UTC(0, 0, 1) - 1900 * 365.2425 * 86_400_000
  const hi = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
  let seed = 42
  for (let i = 0; i < 100_000; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    const ms = Math.floor(Math.max(-62_167_219_200_000, lo) + (seed / 2_147_483_648) * (hi - Math.max(-62_167_219_200_000, lo)))
    if (isoTime(ms) !== new Date(ms).toISOString()) bad++
  }
  t.equal(bad, 0, 'no instant differs')
  t.match(isoTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'now')
})
