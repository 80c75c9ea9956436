import t from 'tap'
import { dumpConsistently, MAX_DUMP_ATTEMPTS } from '../../src/rtnl/dump-retry.js'
import { DumpInterruptedError } from '../../src/errors.js'

t.test('a clean dump is returned as is', async (t) => {
  t.same(await dumpConsistently(async () => ({ replies: [1, 2], interrupted: false }), 'RTM_GETLINK'), [1, 2])
})

t.test('an interrupted dump is asked again; the first consistent one wins', async (t) => {
  let n = 0
  const r = await dumpConsistently(async () => ({ replies: [++n], interrupted: n < 3 }), 'RTM_GETLINK')
  t.same(r, [3])
  t.equal(n, 3)
})

t.test('five interrupted dumps in a row are an error, not inconsistent results', async (t) => {
  let n = 0
  const err = await dumpConsistently(async () => ({ replies: [++n], interrupted: true }), 'RTM_GETROUTE').catch((e: unknown) => e)
  t.type(err, DumpInterruptedError)
  t.equal((err as DumpInterruptedError).op, 'RTM_GETROUTE')
  t.equal((err as DumpInterruptedError).attempts, MAX_DUMP_ATTEMPTS)
  t.equal(n, 5)
})
