/**
 * Runs another firewall's own tool (iptables-nft, ufw, firewall-cmd) inside the network's namespace, the
 * way kvmnet runs nft: nsenter into the namespace, C locale (their messages are parsed only where the tool
 * has no other interface: `ufw show added`), a timeout so a wedged tool cannot hang an apply.
 */
import { FirewallToolError } from '../errors.js'
import { nsCommand } from '../netns/index.js'
import type { NetnsRef } from '../netns/index.js'
import { runProgram, type ProgramResult } from '../util/index.js'

const TIMEOUT_MS = 60_000

/** The tool's result, whatever its exit code; FirewallToolError only when it could not run at all. */
export async function runTool(ns: NetnsRef, tool: string, args: readonly string[]): Promise<ProgramResult> {
  const c = nsCommand(ns, tool, args)
  const r = await runProgram(c.file, c.args, { timeoutMs: TIMEOUT_MS, env: { LC_ALL: 'C' } })
  if (r.exitCode === undefined) {
    const why = r.timedOut ? `killed after ${TIMEOUT_MS} ms` : (r.error?.message ?? `killed by ${r.signal ?? 'a signal'}`)
    throw new FirewallToolError({ tool, args, exitCode: undefined, stderr: r.stderr, message: `${tool} ${args.join(' ')}: ${why}`, cause: r.error })
  }
  return r
}

/** The tool's stdout; FirewallToolError when it exits non-zero. */
export async function mustRun(ns: NetnsRef, tool: string, args: readonly string[]): Promise<string> {
  const r = await runTool(ns, tool, args)
  if (r.exitCode !== 0) throw new FirewallToolError({ tool, args, exitCode: r.exitCode, stderr: r.stderr || r.stdout })
  return r.stdout
}
