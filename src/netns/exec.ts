import type { NetnsRef } from './ref.js'

/**
 * The argv that runs `cmd` inside `ns`. nsenter (util-linux) is used rather than a setns in this process
 * because the child must live in the namespace for its whole life (dnsmasq), and because it keeps the
 * event loop's thread in its own namespace.
 */
export function nsCommand(ns: NetnsRef | undefined, cmd: string, args: readonly string[]): { file: string; args: string[] } {
  if (!ns || ns.isCurrent) return { file: cmd, args: [...args] }
  return { file: 'nsenter', args: [`--net=${ns.path}`, '--', cmd, ...args] }
}

/** A readable label for messages and state paths: the namespace's name, else 'host' for the current one. */
export function nsLabel(ns: NetnsRef | undefined): string {
  if (!ns || ns.isCurrent) return 'host'
  return ns.name ?? ns.path.replace(/[^A-Za-z0-9_.-]+/g, '_')
}
