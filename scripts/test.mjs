#!/usr/bin/env node
// The README's test command. Runs node-tap over test/ (or the paths given) with the TAP reporter, passes
// its output through, and ends with the plain count line CI reads: `N passed, N failed, N skipped`.
// The counts are tap's own leaf totals (its closing `# { total, pass, fail, skip, todo }` comment), so one
// broken file with ten checks does not hide behind a single "failed".
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs'

const args = process.argv.slice(2)
const paths = args.length > 0 ? args : ['test/unit', 'test/integration']

let summary
let tail = ''
// The failing points, each with the subtests above it, are printed again just before the count line: a CI log
// that keeps only its head and tail still says what failed.
const failures = []
const stack = []
let partial = ''
let diag = null
function readLine(line) {
  const sub = line.match(/^(\s*)# Subtest: (.*)$/)
  if (sub) {
    const depth = sub[1].length / 4
    stack.length = depth
    stack[depth] = sub[2]
    diag = null
    return
  }
  const point = line.match(/^(\s*)not ok \d+ - (.*?)(?: # time=.*)?$/)
  if (point) {
    const depth = point[1].length / 4
    const where = [...stack.slice(0, depth), point[2]].join(' > ')
    // A parent's "not ok" repeats its children's; keep the innermost.
    if (!failures.some((f) => f.where.startsWith(`${where} > `))) {
      diag = { where, lines: [] }
      failures.push(diag)
    }
    return
  }
  if (!diag) return
  if (/^\s*\.\.\.\s*$/.test(line) || /^\s*(ok|not ok|1\.\.)/.test(line)) {
    diag = null
    return
  }
  // The YAML block under a failing point: keep what says why (found, wanted, message, where), not the stack.
  const key = line.match(/^\s*([A-Za-z]+):/)?.[1]
  if (key) diag.keep = ['found', 'wanted', 'message', 'pattern', 'doesNotMatch', 'code', 'signal', 'lineNumber', 'fileName', 'diff'].includes(key)
  if (diag.keep && diag.lines.length < 16) diag.lines.push(line.trimEnd())
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

// A test process killed outright (tap's timeout ends in SIGKILL) ran neither its teardowns nor its exit hook.
// test/helpers/ns.ts records the PID that made each test namespace in /run/kvmnet-test/.owners; the namespaces
// of owners that are gone are removed here, with the processes in them (started by that test) and their state
// under /run/kvmnet-test. Owners still running (another test command beside this one) are left alone.
function sweepOrphans() {
  const dir = '/run/kvmnet-test/.owners'
  let names = []
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const swept = []
  for (const name of names) {
    const pid = Number(readFileSync(`${dir}/${name}`, 'utf8'))
    if (pid > 0 && alive(pid)) continue
    if (existsSync(`/run/netns/${name}`)) {
      const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean)
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL')
        } catch {}
      }
      execFileSync('ip', ['netns', 'delete', name])
      swept.push(name)
    }
    for (const entry of readdirSync('/run/kvmnet-test')) {
      if (entry === name || entry.startsWith(`${name}-`)) rmSync(`/run/kvmnet-test/${entry}`, { recursive: true, force: true })
    }
    rmSync(`${dir}/${name}`, { force: true })
  }
  try {
    rmdirSync(dir)
  } catch {}
  return swept
}

const tap = spawn('npx', ['tap', '--reporter=tap', ...paths], { stdio: ['ignore', 'pipe', 'inherit'] })
tap.stdout.on('data', (d) => {
  process.stdout.write(d)
  const lines = (partial + d.toString()).split('\n')
  partial = lines.pop() ?? ''
  for (const line of lines) readLine(line)
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
  const swept = sweepOrphans()
  if (swept.length > 0) console.log(`# removed ${swept.length} namespace(s) left by killed test processes: ${swept.join(' ')}`)
  // Test files keep state under /run/kvmnet-test/<their namespace> and remove their own part; the shared
  // parent goes once all are done (rmdir: only if nothing was left in it).
  try {
    rmdirSync('/run/kvmnet-test')
  } catch {}
  if (failures.length > 0) {
    console.log(`# ${failures.length} failing point(s):`)
    for (const f of failures.slice(0, 20)) {
      console.log(`# not ok: ${f.where}`)
      for (const l of f.lines) console.log(`#   ${l.trim()}`)
    }
  }
  console.log(`${pass} passed, ${fail} failed, ${skip} skipped`)
  process.exit(fail > 0 ? 1 : 0)
})
