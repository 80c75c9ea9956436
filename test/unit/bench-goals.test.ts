/**
 * The benchmarks' goals and the README's table: a goal is a bound on the ratio (`<= Nx`) or on kvmnet's own
 * figure in the row's unit (`<= N ms`, `<= N MB`); the table generated from a results file replaces only
 * what lies between its markers, and says when the file is a partial run.
 */
import t from 'tap'
import { goalMet } from '../../benchmarks/stats.js'
import { renderTable, replaceTable } from '../../benchmarks/readme-table.js'

const row = { name: 'r', kvmnetMs: 40, baselineMs: 100, baseline: 'b', ratio: 0.4 }

t.test('goalMet', async (t) => {
  t.equal(goalMet({ ...row, goal: '<= 0.5x' }), true)
  t.equal(goalMet({ ...row, goal: '<= 0.15x' }), false)
  t.equal(goalMet({ ...row, goal: '<= 50 ms' }), true, 'an ms goal bounds kvmnet\'s figure, not the ratio')
  t.equal(goalMet({ ...row, goal: '<= 30 ms' }), false)
  t.equal(goalMet({ ...row, unit: 'MB', goal: '<= 80 MB' }), true)
  t.equal(goalMet({ ...row, goal: '<= 80 MB' }), undefined, 'a goal in another unit than the row\'s is not judged')
  t.equal(goalMet({ ...row }), undefined, 'no goal')
  t.equal(goalMet({ ...row, ratio: NaN, goal: '<= 1x' }), undefined, 'not measured')
})

t.test('the README table between its markers', async (t) => {
  const results = {
    date: '2026-12-05T23:00:00.000Z',
    quick: false,
    node: 'v20.20.2',
    cpus: 2,
    cpu: 'AMD EPYC',
    loadavg: { before: [0.5, 0, 0], after: [1.25, 0, 0] },
    rows: [
      { ...row, goal: '<= 0.15x' },
      { ...row, name: 'gap', kvmnetMs: 20, goal: '<= 50 ms', met: true },
    ],
  }
  const table = renderTable(results)
  t.match(table, /load average 0\.50 at the start and 1\.25 at the end/)
  t.match(table, /\| r \| 40\.0 ms \| 100\.0 ms \(b\) \| 0\.40× \| ≤ 0\.15× \| not met \|/)
  t.match(table, /\| gap \| 20\.0 ms \| .* \| ≤ 50 ms \| met \|/)
  t.notMatch(table, /partial run/)
  t.match(renderTable({ ...results, only: ['cni'] }), /partial run, --only cni/)
  const readme = 'a\n<!-- bench-table:begin -->\nold\n<!-- bench-table:end -->\nz\n'
  t.equal(replaceTable(readme, 'new'), 'a\n<!-- bench-table:begin -->\nnew\n<!-- bench-table:end -->\nz\n')
  t.throws(() => replaceTable('no markers', 'x'), /bench-table/)
})
