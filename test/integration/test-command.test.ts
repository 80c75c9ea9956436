/**
 * The README's test command (scripts/test.mjs) leaves nothing behind when a test file is killed outright:
 * its namespaces, the processes in them and their state go once every file is done. Run on a fixture file
 * (test/fixtures/runner/killed.ts) that makes a namespace, starts a process in it and SIGKILLs itself.
 */
import t from 'tap'
import { execa } from 'execa'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { uniqueName } from '../helpers/ns.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

t.test('a test process killed outright: its namespace and the process in it are removed by the test command', async (t) => {
  // A prefix no other test uses, so only the fixture's namespace can match it.
  const prefix = uniqueName('kvfx').replace('-', '')
  const mine = () => readdirSync('/run/netns').filter((n) => n.startsWith(`${prefix}-`))
  t.teardown(async () => {
    for (const n of mine()) {
      // The fixture's own process (it started it), by PID, then its namespace.
      const pids = (await execa('ip', ['netns', 'pids', n], { reject: false })).stdout.split('\n').filter(Boolean)
      for (const pid of pids) process.kill(Number(pid), 'SIGKILL')
      await execa('ip', ['netns', 'delete', n], { reject: false })
    }
  })
  // Without the outer tap's variables, which would make the inner run report to this one.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TAP') && !k.startsWith('_TAP')))
  const r = await execa('node', [join(root, 'scripts/test.mjs'), 'test/fixtures/runner/killed.ts'], {
    cwd: root,
    env: { ...env, KVMNET_FIXTURE_PREFIX: prefix },
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  })
  const last = r.stdout.trim().split('\n').pop() ?? ''
  t.match(last, /^\d+ passed, [1-9]\d* failed, \d+ skipped$/, 'the killed file counts as a failure')
  t.match(r.stdout, new RegExp(`# removed 1 namespace\\(s\\) left by killed test processes: ${prefix}-`), 'the runner says what it removed')
  t.same(mine(), [], 'no namespace of the killed file is left')
  const sleeping = (await execa('pgrep', ['-f', '^sleep 600$'], { reject: false })).stdout.split('\n').filter(Boolean)
  for (const pid of sleeping) {
    const ns = (await execa('ip', ['netns', 'identify', pid], { reject: false })).stdout.trim()
    t.notOk(ns.startsWith(`${prefix}-`), `no process left in its namespace (pid ${pid})`)
  }
  t.notOk(existsSync('/run/kvmnet-test/.owners') && readdirSync('/run/kvmnet-test/.owners').some((n) => n.startsWith(`${prefix}-`)), 'its owner record is gone')
})
