import { isNotFound } from '../../errors.js'
import { openNetwork } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out, printReport } from '../output.js'
import { need, networkOptions } from './common.js'

/** Idempotent, like CNI DEL: a network that is not there is already down. */
export default async function down(a: CliArgs): Promise<number> {
  const name = need(a, 'NAME')
  const net = await openNetwork(name, networkOptions(a)).catch((err: unknown) => {
    if (isNotFound(err)) return undefined
    throw err
  })
  if (!net) {
    // A process killed between taking the network's lock and writing its first state leaves the lock.
    const o = networkOptions(a)
    const { clearStaleLock } = await import('../../network/index.js')
    const { Netns } = await import('../../netns/index.js')
    const { stateDirFor, stateLabel } = await import('../../network/index.js')
    await clearStaleLock(stateDirFor(o.stateRoot ?? '/run/kvmnet', stateLabel(o.netns ? Netns.open(o.netns) : Netns.current()), name))
    if (a.json) out(JSON.stringify({ network: name, down: true, existed: false }))
    else out(`kvmnet: no network ${name} in ${a.netns ?? 'this namespace'}; nothing to do`)
    return 0
  }
  printReport(await net.down(), a.json, a.timings, 'down')
  return 0
}
