#!/usr/bin/env node
// The README's test command. Runs node-tap over test/ (or the paths given) with the TAP reporter, passes
// its output through, and ends with the plain count line CI reads: `N passed, N failed, N skipped`.
// The counts are tap's own leaf totals (its closing `# { total, pass, fail, skip, todo }` comment), so one
// broken file with ten checks does not hide behind a single "failed".
import { spawn } from 'node:child_process'
import { rmdirSync } from 'node:fs'

const args = process.argv.slice(2)
const paths = args.length > 0 ? args : ['test/unit', 'test/integration']

let summary
let tail = ''
const tap = spawn('npx', ['tap', '--reporter=tap', ...paths], { stdio: ['ignore', 'pipe', 'inherit'] })
tap.stdout.on('data', (d) => {
  process.stdout.write(d)
  tail = (tail + d.toString()).slice(-4096)
  const m = [...tail.matchAll(/^# (\{ total: .*\})\s*$/gm)].pop()
  if (m) summary = m[1]
})
tap.on('close', (code) => {
  const get = (k) => Number((summary ?? '').match(new RegExp(`\\b${k}: (\\d+)`))?.[1] ?? 0)
  const pass = get('pass')
  let fail = get('fail')
  const skip = get('skip') + get('todo')
  // A runner that died (timeout, crash) without a failing point must still count as a failure.
  if (code !== 0 && fail === 0) fail = 1
  // Test files keep state under /run/kvmnet-test/<their namespace> and remove their own part; the shared
  // parent goes once all are done (rmdir: only if nothing was left in it).
  try {
    rmdirSync('/run/kvmnet-test')
  } catch {}
  console.log(`${pass} passed, ${fail} failed, ${skip} skipped`)
  process.exit(fail > 0 ? 1 : 0)
})
