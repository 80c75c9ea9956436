/**
 * `kvmnet status` / `list` where nothing is recorded (no state root): what they print, shared by
 * status.ts and by the program itself (main.ts), which answers such a call before loading the CLI's
 * bundle. On a host with no network, a status is most of what a monitoring script or a shell prompt
 * runs; it needs Node's start, the option checks and one stat, not the network layer's compile.
 */
import { existsSync } from 'node:fs'
import { parseCli, type CliArgs } from '../args.js'
import { out } from '../output.js'
import { networkOptions } from './options.js'

export const DEFAULT_STATE_ROOT = '/run/kvmnet'

/** Where the networks were looked for, as the answer words it. */
export function placeOf(a: CliArgs): string {
  return a.all || a.command === 'list' ? 'any namespace' : (a.netns ?? 'this namespace')
}

/** No network to report: `[]` (`null` for one NAME) with --json, else one line. Exit 0. */
export function reportNoNetworks(a: CliArgs): number {
  out(a.json ? (a.positionals[0] ? 'null' : '[]') : `no kvmnet networks in ${placeOf(a)}`)
  return 0
}

/**
 * The exit code of a status/list of every network when the state root does not exist (after printing
 * the answer), or undefined when the command must run: a NAME (which must be found or refused), a state
 * root there, or any bad argument — the command, run in full, then throws that error again and words it
 * as for every command (the error classes of this file's copy of kvmnet are not the bundle's).
 */
export function answerWithoutState(command: string, argv: string[]): number | undefined {
  if (command !== 'status' && command !== 'list') return undefined
  let a: CliArgs
  let root: string
  try {
    a = parseCli(command, argv)
    root = networkOptions(a).stateRoot ?? DEFAULT_STATE_ROOT
  } catch {
    // Not dropped: the full command meets it again (see above).
    return undefined
  }
  if (a.positionals.length > 0 || a.help || existsSync(root)) return undefined
  return reportNoNetworks(a)
}
