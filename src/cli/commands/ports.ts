import { openNetwork } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out, renderColumns } from '../output.js'
import { need, networkOptions } from './common.js'

export default async function ports(a: CliArgs): Promise<number> {
  const net = await openNetwork(need(a, 'NAME'), networkOptions(a))
  try {
    const ps = await net.ports()
    if (a.json) out(JSON.stringify(ps, null, 2))
    else out(renderColumns(['name', 'kind', 'guest mac', 'ifindex', 'state', 'device'], ps.map((p) => [p.name, p.kind, p.mac, String(p.index), p.up ? 'up' : 'down', p.tapDevice ?? '-'])))
  } finally {
    net.close()
  }
  return 0
}
