#!/usr/bin/env node
/**
 * The kvmnet command. Help and version load nothing but their text, nor does a status where no network is
 * recorded; a command loads the CLI's bundle (one
 * CommonJS file with V8's code cache, see bundle.ts) and in it only its own module (and with it the network
 * layer, netlink, nft, dnsmasq). Errors print one line
 * (`--json`: an {"error": {...}} object on stderr) and exit 2 for bad input, 75 when another writer holds
 * the network, 1 otherwise.
 *
 * The package's `kvmnet` is this file built as CommonJS (dist/cli.cjs, one file: this, usage.ts and the
 * bundle's loader): an ES module as a program costs Node's ESM loader (~6 ms, a fifth of Node's own
 * start) before its first line. dist/cli.js, the same built as ESM, stays for what names it (units written
 * by `kvmnet enable` before, `node dist/cli.js demo`).
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
// Output through fd 1 and 2, not process.stdout/stderr (util/std-fds.ts): a pipe's stream loads node:net.
import { requireBundle, writeStderr, writeStdout } from '../util/index.js'
import { answerWithoutState } from './commands/status-empty.js'
import type { CommandTable, UsageError, fail, runCommand } from './run.js'
import { commandUsage, mainUsage } from './usage.js'

type Bundle = { COMMANDS: CommandTable; runCommand: typeof runCommand; fail: typeof fail; UsageError: typeof UsageError; installFastExit: () => void }

/** The bundle of every command (built), or the sources' modules (run through tsx, where there is no bundle). */
async function bundle(command: string): Promise<Bundle> {
  const file = fileURLToPath(new URL('./cli-bundle.cjs', import.meta.url))
  // Not a literal: the build must not turn the sources' path into a second copy of every command.
  const sources = './bundle.js'
  const b = existsSync(file) ? (requireBundle(file, command) as Bundle) : ((await import(sources)) as Bundle)
  // The process ends through _exit once the command has answered (see the 'beforeExit' handler below).
  b.installFastExit()
  return b
}

/** A usage error found here (an unknown command or help topic): its line, exit 2 (the bundle words it). */
async function usageError(message: string, json: boolean): Promise<number> {
  const b = await bundle('usage-error')
  return b.fail(new b.UsageError(message), json)
}

function version(): string {
  // package.json sits above dist/ (bundle) and above src/cli/ (sources run through tsx).
  const file = ['../package.json', '../../package.json'].map((rel) => new URL(rel, import.meta.url)).find((u) => existsSync(u))
  return file ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'unknown'
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h') {
    writeStdout(mainUsage())
    return command ? 0 : 2
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    writeStdout(`kvmnet ${version()}\n`)
    return 0
  }
  if (command === 'help') {
    const topic = rest[0]
    const text = topic ? commandUsage(topic) : mainUsage()
    if (!text) return usageError(`unknown command '${topic}' (try kvmnet --help)`, rest.includes('--json'))
    writeStdout(text)
    return 0
  }
  // Every command has its usage text (and its module in bundle.ts's table).
  if (!commandUsage(command)) return usageError(`unknown command '${command}' (try kvmnet --help)`, rest.includes('--json'))
  if (rest.includes('--help') || rest.includes('-h')) {
    writeStdout(commandUsage(command) ?? mainUsage())
    return 0
  }
  // `status`/`list` on a host with no network: answered here, without the bundle (commands/status-empty.ts).
  const answered = answerWithoutState(command, rest)
  if (answered !== undefined) return answered
  // The code cache is per command: `up --dry-run` runs plan's code.
  const b = await bundle(command === 'up' && rest.includes('--dry-run') ? 'plan' : command)
  return b.runCommand(b.COMMANDS, command, rest)
}

// Once the command has answered and nothing is left to run, exit at once rather than through Node's
// teardown of the environment and the V8 heap (as kvmnet-cni does, cni/bin.ts): 'beforeExit' is emitted
// only when the event loop is empty, so nothing under way (a foreground network, a child) is cut short, the
// exit code is the one set below, and 'exit' handlers (the code cache) still run. Output went out through
// fd 1 and 2 synchronously. ~1 ms of every command on the caller's clock (write-to-exit_group under strace);
// with the bundle loaded, process.exit() ends in _exit(2), without the rest of Node's teardown
// (native/fast-exit.ts).
process.on('beforeExit', () => process.exit())

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    writeStderr(`kvmnet: ${String(err)}\n`)
    process.exitCode = 1
  },
)
