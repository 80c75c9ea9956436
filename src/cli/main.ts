#!/usr/bin/env node
/**
 * The kvmnet command. Help and version load nothing but their text; each command's module (and with it the
 * network layer, netlink, nft, dnsmasq) is imported only when that command runs. Errors print one line
 * (`--json`: an {"error": {...}} object on stderr) and exit 2 for bad input, 75 when another writer holds
 * the network, 1 otherwise.
 */
import { existsSync, readFileSync } from 'node:fs'
import { commandUsage, mainUsage } from './usage.js'

const COMMANDS: Record<string, () => Promise<{ default: (a: import('./args.js').CliArgs) => Promise<number> }>> = {
  up: () => import('./commands/up.js'),
  down: () => import('./commands/down.js'),
  status: () => import('./commands/status.js'),
  list: () => import('./commands/status.js'),
  leases: () => import('./commands/leases.js'),
  addresses: () => import('./commands/addresses.js'),
  ports: () => import('./commands/ports.js'),
  'port-xml': () => import('./commands/port-xml.js'),
  gc: () => import('./commands/gc.js'),
  doctor: () => import('./commands/doctor.js'),
  plan: () => import('./commands/plan.js'),
  port: () => import('./commands/change.js'),
  forward: () => import('./commands/change.js'),
  reservation: () => import('./commands/change.js'),
  enable: () => import('./commands/enable.js'),
  disable: () => import('./commands/enable.js'),
  peer: () => import('./commands/peer.js'),
  demo: () => import('./commands/demo.js'),
  schema: () => import('./commands/schema.js'),
  'import-libvirt': () => import('./commands/import-libvirt.js'),
}

function version(): string {
  // package.json sits above dist/ (bundle) and above src/cli/ (sources run through tsx).
  const file = ['../package.json', '../../package.json'].map((rel) => new URL(rel, import.meta.url)).find((u) => existsSync(u))
  return file ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'unknown'
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(mainUsage())
    return command ? 0 : 2
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`kvmnet ${version()}\n`)
    return 0
  }
  if (command === 'help') {
    const topic = rest[0]
    const text = topic ? commandUsage(topic) : mainUsage()
    if (!text) return fail(new UsageError(`unknown command '${topic}' (try kvmnet --help)`), rest.includes('--json'))
    process.stdout.write(text)
    return 0
  }
  // `up --dry-run` is `plan`.
  const load = command === 'up' && rest.includes('--dry-run') ? COMMANDS.plan : COMMANDS[command]
  if (!load) return fail(new UsageError(`unknown command '${command}' (try kvmnet --help)`), rest.includes('--json'))
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandUsage(command) ?? mainUsage())
    return 0
  }
  const json = rest.includes('--json')
  try {
    const { parseCli } = await import('./args.js')
    const args = parseCli(command, rest)
    return await (await load()).default(args)
  } catch (err) {
    return fail(err, json, command)
  }
}

class UsageError extends Error {
  override name = 'UsageError'
}

async function fail(err: unknown, json: boolean, command?: string): Promise<number> {
  const { describeError } = await import('./errors.js')
  const d = describeError(err, command)
  if (json) process.stderr.write(`${JSON.stringify({ error: d.json })}\n`)
  else for (const line of d.lines) process.stderr.write(`kvmnet: ${line}\n`)
  if (process.env.KVMNET_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`)
  return err instanceof UsageError ? 2 : d.exitCode
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`kvmnet: ${String(err)}\n`)
    process.exitCode = 1
  },
)
