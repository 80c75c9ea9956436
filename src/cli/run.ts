/**
 * One command run: its arguments parsed, its module loaded, what it throws turned into the CLI's error line
 * and exit code. It runs inside the copy of the library the command's module was loaded with (the CLI's
 * bundle, or the sources through tsx), so that describeError's instanceof checks see that copy's error
 * classes.
 */
import { writeStderr } from '../util/index.js'
import type { CliArgs } from './args.js'

export type CommandTable = Record<string, () => Promise<{ default: (a: CliArgs) => Promise<number> }>>

export class UsageError extends Error {
  override name = 'UsageError'
}

export async function runCommand(table: CommandTable, command: string, rest: string[]): Promise<number> {
  // `up --dry-run` is `plan`.
  const load = command === 'up' && rest.includes('--dry-run') ? table.plan : table[command]
  const json = rest.includes('--json')
  try {
    if (!load) throw new UsageError(`unknown command '${command}' (try kvmnet --help)`)
    const { parseCli } = await import('./args.js')
    const args = parseCli(command, rest)
    return await (await load()).default(args)
  } catch (err) {
    return fail(err, json, command)
  }
}

export async function fail(err: unknown, json: boolean, command?: string): Promise<number> {
  const { describeError } = await import('./errors.js')
  const d = describeError(err, command)
  if (json) writeStderr(`${JSON.stringify({ error: d.json })}\n`)
  else writeStderr(d.lines.map((line) => `kvmnet: ${line}\n`).join(''))
  if (process.env.KVMNET_DEBUG && err instanceof Error) writeStderr(`${err.stack}\n`)
  return err instanceof UsageError ? 2 : d.exitCode
}
