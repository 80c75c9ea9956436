/**
 * The network options every command takes (--netns, --state-root, --wait), checked before anything runs.
 * Kept apart from common.ts and from the network layer's face: `status` with no state at all answers
 * after these checks alone, without loading the network layer, netlink or nft.
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { SpecError } from '../../errors.js'
import { checkStateRoot } from '../../state-root/index.js'
import type { CliArgs } from '../args.js'

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
