/**
 * How an error reads on the command line: one line (or one per cause of an AggregateError), a JSON object
 * with the error's typed fields, and the exit code. A missing privilege is said as such, not as the
 * syscall that tripped over it.
 */
import { BusyError, KvmnetError, SpecError } from '../errors.js'

const PERMISSION = new Set(['EPERM', 'EACCES'])

function code(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | undefined)?.code
  return typeof c === 'string' ? c : undefined
}

function isPermission(err: unknown): boolean {
  if (PERMISSION.has(code(err) ?? '')) return true
  if (err instanceof AggregateError) return err.errors.length > 0 && err.errors.every(isPermission)
  return false
}

/** The error's own enumerable fields (field, reason, errno, code, op, ...) for --json. */
function fields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) }
  const out: Record<string, unknown> = { name: err.name, message: err.message }
  for (const [k, v] of Object.entries(err)) {
    if (k === 'cause' || k === 'stack' || typeof v === 'function') continue
    if (k === 'issues' || typeof v !== 'object' || v === null || Array.isArray(v)) out[k] = v
  }
  if (err instanceof AggregateError) out.errors = err.errors.map(fields)
  return out
}

export function describeError(err: unknown, command: string | undefined): { lines: string[]; json: Record<string, unknown>; exitCode: number } {
  const json = fields(err)
  if (isPermission(err) && process.getuid?.() !== 0) {
    const line = `${command ?? 'this command'} needs root (CAP_NET_ADMIN) in the target namespace: run it as root`
    return { lines: [line], json: { ...json, hint: line }, exitCode: 1 }
  }
  const e = err as Error & { code?: string }
  const lines =
    err instanceof AggregateError
      ? [e.message, ...err.errors.map((c: unknown) => `  ${c instanceof Error ? c.message : String(c)}`)]
      : [err instanceof KvmnetError || e.code?.startsWith?.('ERR_PARSE_ARGS') || e.name === 'UsageError' ? e.message : `${e.name ?? 'Error'}: ${e.message ?? String(err)}`]
  const exitCode = err instanceof SpecError || e.code?.startsWith?.('ERR_PARSE_ARGS') ? 2 : err instanceof BusyError ? 75 : 1
  return { lines, json, exitCode }
}
