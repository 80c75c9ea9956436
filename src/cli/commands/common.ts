/** What several commands share: the network options from the arguments, reading a spec, NAME. */
import { statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { checkStateRoot } from '../../network/index.js'
import { SpecError } from '../../errors.js'
import type { CliArgs } from '../args.js'
import { onNftFallback } from '../../nft/index.js'

// libnftables missing (or KVMNET_LIBNFTABLES pointing elsewhere): one line for the whole command, whichever
// part of it first falls back to the nft program. `up` leaves the same warning of its Network to this line.
onNftFallback((w) => process.stderr.write(`kvmnet: warning: ${w.message} [${w.code}: ${w.object}]; fix: ${w.fix}\n`))

export type Command = (a: CliArgs) => Promise<number>

/**
 * `--netns` must name a network namespace: a missing one, or a path that is not one, is bad input (exit 2)
 * like any other, found before anything runs.
 */
function checkNetns(ns: string): void {
  const path = ns.includes('/') ? ns : `/run/netns/${ns}`
  let dev: number
  try {
    dev = statSync(path).dev
  } catch {
    throw new SpecError('--netns', `no network namespace ${ns} (${path} does not exist)`)
  }
  // Namespace files live on nsfs: the same device as this process's own namespace file.
  if (dev !== statSync('/proc/self/ns/net').dev) throw new SpecError('--netns', `${path} is not a network namespace`)
}

export function networkOptions(a: CliArgs): { netns?: string; stateRoot?: string; lockTimeoutMs: number } {
  if (a.netns !== undefined) checkNetns(a.netns)
  const wait = a.wait === undefined ? 0 : Number(a.wait)
  if (!Number.isFinite(wait) || wait < 0) throw new SpecError('--wait', `'${a.wait}' is not a number of seconds`)
  return {
    ...(a.netns ? { netns: a.netns } : {}),
    ...(a['state-root'] ? { stateRoot: stateRootOf(a['state-root']) } : {}),
    // An operator's command fails at once when another writer holds the network, rather than queueing.
    lockTimeoutMs: wait * 1000,
  }
}

/** Like any path on a command line, relative to the working directory; checked before anything runs. */
function stateRootOf(arg: string): string {
  const root = resolve(arg)
  checkStateRoot(root, '--state-root')
  return root
}

export function need(a: CliArgs, what: string): string {
  const v = a.positionals[0]
  if (!v) throw new SpecError(what, `missing ${what} (see kvmnet ${a.command} --help)`)
  return v
}

export async function readSpec(path: string): Promise<unknown> {
  const text =
    path === '-'
      ? await readStdin()
      : await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new SpecError('SPEC', `cannot read ${path}: ${err.code ?? err.message}`)
        })
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new SpecError('SPEC', `${path} is not valid JSON: ${(err as Error).message}`)
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
