/** The CLI's arguments: one option table for every command (each command reads what it needs). */
import { parseArgs } from 'node:util'

export interface CliArgs {
  command: string
  positionals: string[]
  netns?: string | undefined
  'state-root'?: string | undefined
  json: boolean
  help: boolean
  foreground: boolean
  timings: boolean
  prune: boolean
  all: boolean
  force: boolean
  watch: boolean
  'dry-run': boolean
  mac?: string | undefined
  owner?: string | undefined
  queues?: string | undefined
  /** enable/disable: write under this root instead of / (an image, a test). */
  root?: string | undefined
  /** import-libvirt: the NIC in a libvirt network's existing host bridge. */
  interface?: string | undefined
  /** Seconds to wait for another writer of the same network (default 0: BusyError at once). */
  wait?: string | undefined
}

export function parseCli(command: string, argv: string[]): CliArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      netns: { type: 'string' },
      'state-root': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      foreground: { type: 'boolean', default: false },
      timings: { type: 'boolean', default: false },
      prune: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      wait: { type: 'string' },
      force: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      mac: { type: 'string' },
      owner: { type: 'string' },
      queues: { type: 'string' },
      root: { type: 'string' },
      interface: { type: 'string' },
    },
  })
  return { command, positionals, ...values } as CliArgs
}
