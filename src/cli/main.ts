#!/usr/bin/env node
/**
 * The kvmnet command. Every command prints one clear line on error and exits non-zero (2 for bad input,
 * 1 for everything else); `--json` output is for programs, the rest for people.
 */
import { parseArgs } from 'node:util'
import { BusyError, KvmnetError, SpecError } from '../errors.js'
import { commands, usage } from './commands.js'

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage)
    return command ? 0 : 2
  }
  const run = commands[command]
  if (!run) {
    process.stderr.write(`kvmnet: unknown command '${command}' (try kvmnet --help)\n`)
    return 2
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      netns: { type: 'string' },
      json: { type: 'boolean', default: false },
      foreground: { type: 'boolean', default: false },
      timings: { type: 'boolean', default: false },
      prune: { type: 'boolean', default: false },
      wait: { type: 'string' },
      'state-root': { type: 'string' },
    },
  })
  return run({ positionals, ...values })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    const e = err as Error & { code?: string }
    const msg = err instanceof KvmnetError || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code?.startsWith('ERR_PARSE_ARGS')
      ? e.message
      : `${e.name ?? 'Error'}: ${e.message}`
    process.stderr.write(`kvmnet: ${msg}\n`)
    if (process.env.KVMNET_DEBUG) process.stderr.write(`${e.stack}\n`)
    process.exitCode = err instanceof SpecError || e.code?.startsWith('ERR_PARSE_ARGS') ? 2 : err instanceof BusyError ? 75 : 1
  },
)
