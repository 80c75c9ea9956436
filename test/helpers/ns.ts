/**
 * Throwaway network namespaces for tests. Fixtures are built with iproute2 (`ip`) so that a test of one
 * kvmnet layer does not depend on another; every namespace and child process made here is removed in
 * t.teardown, also when the test fails, and once more on process exit as a last resort.
 */
import { execa, execaSync, type ResultPromise } from 'execa'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'

export interface TestNs {
  /** Name under /run/netns. */
  name: string
  /** Path of the namespace file, e.g. /run/netns/kvt-ab12cd. */
  path: string
  /** Run a command inside the namespace and return stdout (throws on non-zero exit). */
  run(cmd: string, args?: readonly string[], opts?: { input?: string; timeout?: number }): Promise<string>
  /** Like run, but resolves with the exit code instead of throwing. */
  try(cmd: string, args?: readonly string[], opts?: { input?: string; timeout?: number }): Promise<{ exitCode: number; stdout: string; stderr: string }>
  /** Run `ip -batch -` inside the namespace. */
  ip(batch: string): Promise<void>
  /** Start a long-running process in the namespace; it is killed (by PID) at teardown. */
  spawn(cmd: string, args?: readonly string[]): ResultPromise
}

interface Teardownable {
  teardown(fn: () => unknown): void
}

const live = new Set<string>()
const children = new Set<ResultPromise>()

/**
 * Who made each live test namespace: /run/kvmnet-test/.owners/<name> holds the test process's PID. A test
 * process killed outright (the runner's timeout ends in SIGKILL) runs neither its teardowns nor its exit
 * hook; the test command (scripts/test.mjs) then removes the namespaces whose owner is gone.
 */
const OWNERS = '/run/kvmnet-test/.owners'

function own(name: string): void {
  for (let attempt = 1; ; attempt++) {
    mkdirSync(OWNERS, { recursive: true })
    try {
      writeFileSync(`${OWNERS}/${name}`, String(process.pid))
      return
    } catch (err) {
      // Another test command beside this one removes the directory when it finds it empty.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err
    }
  }
}

function disown(name: string): void {
  rmSync(`${OWNERS}/${name}`, { force: true })
}

process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL')
    } catch {}
  }
  for (const name of live) {
    try {
      execaSync('ip', ['netns', 'delete', name], { reject: false })
      disown(name)
    } catch {}
  }
})

export function uniqueName(prefix = 'kvt'): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`
}

/** Create a namespace with `lo` up; removed at t.teardown. */
export async function makeNs(t: Teardownable, prefix = 'kvt'): Promise<TestNs> {
  const name = uniqueName(prefix)
  own(name)
  await execa('ip', ['netns', 'add', name])
  live.add(name)
  const mine: ResultPromise[] = []
  t.teardown(async () => {
    for (const c of mine) {
      if (c.exitCode === null && c.pid !== undefined) {
        c.kill('SIGKILL')
        await c.catch(() => undefined)
      }
      children.delete(c)
    }
    await execa('ip', ['netns', 'delete', name], { reject: false })
    live.delete(name)
    disown(name)
    // Network tests keep their kvmnet state under /run/kvmnet-test/<namespace>: only this test's part is
    // removed here (the shared parent would race other test files running beside this one; the test
    // runner removes it once every file is done).
    await rm(`/run/kvmnet-test/${name}`, { recursive: true, force: true })
  })
  const path = `/run/netns/${name}`
  const ns: TestNs = {
    name,
    path,
    async run(cmd, args = [], opts = {}) {
      const r = await execa('nsenter', [`--net=${path}`, '--', cmd, ...args], {
        input: opts.input,
        timeout: opts.timeout ?? 30_000,
      })
      return r.stdout
    },
    async try(cmd, args = [], opts = {}) {
      const r = await execa('nsenter', [`--net=${path}`, '--', cmd, ...args], {
        input: opts.input,
        timeout: opts.timeout ?? 30_000,
        reject: false,
      })
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
    },
    async ip(batch) {
      await execa('ip', ['-n', name, '-batch', '-'], { input: batch })
    },
    spawn(cmd, args = []) {
      const c = execa('nsenter', [`--net=${path}`, '--', cmd, ...args], { reject: false, buffer: true })
      mine.push(c)
      children.add(c)
      return c
    },
  }
  await ns.ip('link set lo up')
  return ns
}

/** True when the namespace file is gone (for asserting cleanup). */
export function nsGone(name: string): boolean {
  return !existsSync(`/run/netns/${name}`)
}

/** Poll `check` until it returns true (or a value), every `everyMs`, for at most `ms`. */
export async function waitFor<T>(check: () => Promise<T | false | undefined> | T | false | undefined, ms = 5000, everyMs = 20): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== false && v !== undefined) return v
    if (Date.now() > until) throw new Error(`waitFor: condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
