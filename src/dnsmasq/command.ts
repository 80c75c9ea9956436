/**
 * The argv that starts dnsmasq. A supervised dnsmasq runs under `setpriv --pdeathsig KILL`, which sets
 * PR_SET_PDEATHSIG and then execs nsenter, which execs dnsmasq: one pid throughout, so the kernel kills
 * dnsmasq when the Node thread that spawned it dies, even by SIGKILL (dnsmasq has no such option itself).
 */
import { nsCommand } from '../netns/index.js'
import type { NetnsRef } from '../netns/index.js'
import { confArg } from './identify.js'
import type { DnsmasqPaths } from './paths.js'

export interface DnsmasqCommand {
  file: string
  args: string[]
}

export function dnsmasqCommand(ns: NetnsRef | undefined, paths: DnsmasqPaths, opts: { dieWithParent: boolean }): DnsmasqCommand {
  const inner = nsCommand(ns, 'dnsmasq', ['--keep-in-foreground', confArg(paths)])
  if (!opts.dieWithParent) return inner
  return { file: 'setpriv', args: ['--pdeathsig', 'KILL', '--', inner.file, ...inner.args] }
}
