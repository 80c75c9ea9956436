/**
 * Runs a short-lived program (nft, a probe in the demo) and collects its output. Plain child_process
 * rather than execa: it is the only thing kvmnet's library needs from a process runner, and measured on
 * the "100 networks, 1000 ports" benchmark execa cost ~12 MB of resident memory to load and grew it by
 * ~15 MB per hundred runs, where execFile levels off.
 */
import { childProcess } from './child-process.js'

export interface ProgramResult {
  /** Exit code; undefined when the program did not run or was killed (see `signal`, `error`). */
  exitCode: number | undefined
  signal: NodeJS.Signals | undefined
  stdout: string
  stderr: string
  /** Why it did not run or was stopped: ENOENT, a timeout. */
  error: Error | undefined
  timedOut: boolean
}

export interface RunOptions {
  /** Kill (SIGKILL) after this many ms. */
  timeoutMs?: number
  /** Extra environment on top of this process's own. */
  env?: Record<string, string>
}

export function runProgram(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const child = childProcess().execFile(
      file,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 256 << 20,
        timeout: opts.timeoutMs ?? 0,
        killSignal: 'SIGKILL',
        ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown; signal?: NodeJS.Signals | null }) | null
        const exitCode = !e ? 0 : typeof e.code === 'number' ? e.code : undefined
        const signal = e?.signal ?? undefined
        resolve({
          exitCode,
          signal,
          stdout,
          stderr,
          error: e && exitCode === undefined ? e : undefined,
          timedOut: Boolean(e?.killed && signal === 'SIGKILL' && opts.timeoutMs),
        })
      },
    )
    child.stdin?.end()
  })
}
