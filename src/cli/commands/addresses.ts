import { openNetwork } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out, renderColumns } from '../output.js'
import { need, networkOptions } from './common.js'

/** Every guest's addresses: leases and addresses learned from the guests' traffic. */
export default async function addresses(a: CliArgs): Promise<number> {
  const net = await openNetwork(need(a, 'NAME'), networkOptions(a))
  try {
    const list = await net.addresses()
    if (a.json) out(JSON.stringify(list, null, 2))
    else {
      const ago = (d: Date | undefined): string => (d ? `${Math.max(0, Math.round((Date.now() - d.getTime()) / 1000))}s ago` : '-')
      out(renderColumns(['port', 'mac', 'address', 'source', 'last seen'], list.map((x) => [x.port ?? '-', x.mac, x.address, x.source, ago(x.lastSeen)])))
    }
  } finally {
    net.close()
  }
  return 0
}
