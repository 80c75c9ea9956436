/** What several commands share: the network options (options.ts), reading a spec, NAME, nft's fallback warning. */
import { readFileSync } from 'node:fs'
import { SpecError } from '../../errors.js'
import type { CliArgs } from '../args.js'
import { onNftFallback } from '../../nft/index.js'

export { networkOptions } from './options.js'

// libnftables missing (or KVMNET_LIBNFTABLES pointing elsewhere): one line for the whole command, whichever
// part of it first falls back to the nft program. `up` leaves the same warning of its Network to this line.
onNftFallback((w) => process.stderr.write(`kvmnet: warning: ${w.message} [${w.code}: ${w.object}]; fix: ${w.fix}\n`))

export type Command = (a: CliArgs) => Promise<number>

export function need(a: CliArgs, what: string): string {
  const v = a.positionals[0]
  if (!v) throw new SpecError(what, `missing ${what} (see kvmnet ${a.command} --help)`)
  return v
}

export async function readSpec(path: string): Promise<unknown> {
  const text = path === '-' ? await readStdin() : readSpecFile(path)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new SpecError('SPEC', `${path} is not valid JSON: ${(err as Error).message}`)
  }
}

/**
 * Synchronously: the command has nothing else to do meanwhile, and for `up` this was the one use of
 * node:fs/promises, whose first require costs ~1.3 ms (and the read, libuv's thread pool started).
 */
function readSpecFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new SpecError('SPEC', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
