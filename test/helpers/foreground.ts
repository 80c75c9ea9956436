/**
 * `kvmnet up --foreground` as a child of the test (run from the sources through tsx), with what it
 * printed, its end, and the lock file of its network (found under the state root: the namespace label
 * is a device:inode pair the test does not compute).
 */
import { execa, type ResultPromise } from 'execa'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { waitFor } from './ns.js'
import { scratchDir } from './scratch.js'

export const root = fileURLToPath(new URL('../..', import.meta.url))
export const cliArgs = ['--import', 'tsx', join(root, 'src/cli/main.ts')]

export function specFile(spec: unknown, dir = scratchDir('kvmnet-fg-')): string {
  const p = join(dir, 'spec.json')
  writeFileSync(p, JSON.stringify(spec))
  return p
}

export interface Foreground {
  proc: ResultPromise
  pid: number
  out(): string
  err(): string
  /** Whether the process has ended. */
  ended(): boolean
  /** Waits for the process to end (at most `ms`), then resolves with its exit code or signal. */
  end(ms?: number): Promise<{ exitCode: number | undefined; signal: string | undefined }>
}

/** Starts `kvmnet up SPEC --foreground` in `netns` (from the sources, or `command`); SIGKILLed at teardown if still running. */
export function startForeground(t: Test, spec: string, netns: string, stateRoot: string, extra: string[] = [], command: string[] = ['node', ...cliArgs]): Foreground {
  const [file = 'node', ...args] = command
  const proc = execa(file, [...args, 'up', spec, '--foreground', '--netns', netns, '--state-root', stateRoot, ...extra], { reject: false, cwd: root })
  let stdout = ''
  let stderr = ''
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  let done = false
  void proc.finally(() => (done = true))
  t.teardown(async () => {
    if (!done && proc.pid !== undefined) {
      proc.kill('SIGKILL')
      await proc
    }
  })
  return {
    proc,
    pid: proc.pid ?? 0,
    out: () => stdout,
    err: () => stderr,
    ended: () => done,
    async end(ms = 30_000) {
      await waitFor(() => done, ms, 20)
      const r = await proc
      return { exitCode: r.exitCode, signal: r.signal }
    },
  }
}

/** The lock file of `network` under `stateRoot` (there once the network's first apply took it). */
export function lockFileOf(stateRoot: string, network: string): string | undefined {
  if (!existsSync(stateRoot)) return undefined
  for (const label of readdirSync(stateRoot)) {
    const f = join(stateRoot, label, `${network}.lock`)
    if (existsSync(f)) return f
  }
  return undefined
}

/**
 * Holds the flock of `path` from another process (flock(1)) until release() — another writer, as a
 * second kvmnet would be. Resolves once the lock is taken. flock -o keeps the lock in flock itself (its
 * child shell does not inherit it); the shell waits on its stdin, so closing that ends both.
 */
export async function holdLock(t: Test, path: string): Promise<{ release(): Promise<void> }> {
  const proc = execa('flock', ['--exclusive', '-o', path, 'sh', '-c', 'echo held; read x'], { reject: false, stdin: 'pipe' })
  let said = ''
  proc.stdout?.on('data', (d: Buffer) => (said += d.toString()))
  const release = async () => {
    proc.stdin?.end()
    await proc
  }
  t.teardown(release)
  await waitFor(() => said.includes('held'), 5000, 10)
  return { release }
}

/** Whether any process holds a flock on the file at `path` (read from /proc/locks, by inode). */
export function lockHeld(path: string): boolean {
  let ino: number
  try {
    ino = statSync(path).ino
  } catch {
    return false
  }
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .some((f) => f[1] === 'FLOCK' && Number((f[5] ?? '').split(':')[2]) === ino)
}
