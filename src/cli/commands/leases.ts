import { openNetwork } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out, renderColumns } from '../output.js'
import { need, networkOptions } from './common.js'

export default async function leases(a: CliArgs): Promise<number> {
  const net = await openNetwork(need(a, 'NAME'), networkOptions(a))
  if (a.watch) {
    const { watchLeases } = await import('./leases-watch.js')
    return watchLeases(net, a)
  }
  try {
    const ls = await net.leases()
    if (a.json) out(JSON.stringify(ls, null, 2))
    else out(renderColumns(['mac', 'ip', 'hostname', 'port', 'expires'], ls.map((l) => [l.mac, l.ip, l.hostname ?? '-', l.port ?? '-', l.expiresAt ? l.expiresAt.toISOString() : 'never'])))
  } finally {
    net.close()
  }
  return 0
}
