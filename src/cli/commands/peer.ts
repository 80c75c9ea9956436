/**
 * `kvmnet peer add|rm NET IP`: a VXLAN peer (another host's underlay address) added to or removed from a
 * running network, like `port`/`forward`/`reservation`: recorded as a runtime addition, so a later `up` of
 * the spec file shows it as a difference (WouldRemoveError, or --prune) instead of silently dropping it.
 */
import { SpecError } from '../../errors.js'
import { openNetwork } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { printReport } from '../output.js'
import { networkOptions } from './common.js'

function arg(a: CliArgs, i: number, what: string): string {
  const v = a.positionals[i]
  if (!v) throw new SpecError(what, `missing ${what} (see kvmnet peer --help)`)
  return v
}

export default async function peer(a: CliArgs): Promise<number> {
  const verb = arg(a, 0, 'add|rm')
  if (verb !== 'add' && verb !== 'rm') throw new SpecError('add|rm', `'${verb}' is neither add nor rm`)
  const net = await openNetwork(arg(a, 1, 'NET'), networkOptions(a))
  try {
    const ip = arg(a, 2, 'IP')
    if (verb === 'add') printReport(await net.addPeer(ip), a.json, a.timings, `vxlan peer ${ip} added`)
    else printReport(await net.removePeer(ip), a.json, a.timings, `vxlan peer ${ip} removed`)
    return 0
  } finally {
    net.close()
  }
}
