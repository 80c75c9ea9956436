import { openNetwork } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out, renderColumns } from '../output.js'
import { need, networkOptions } from './common.js'

export default async function ports(a: CliArgs): Promise<number> {
  const net = await openNetwork(need(a, 'NAME'), networkOptions(a))
  try {
    const ps = await net.ports()
    if (a.json) out(JSON.stringify(ps, null, 2))
    else
      out(
        renderColumns(
          ['name', 'kind', 'guest mac', 'ifindex', 'state', 'device', 'bandwidth (KiB/s)'],
          ps.map((p) => [p.name, p.kind, p.mac, String(p.index), p.up ? 'up' : 'down', p.tapDevice ?? '-', limits(p.bandwidth)]),
        ),
      )
  } finally {
    net.close()
  }
  return 0
}

type Rates = { average?: number | undefined; peak?: number | undefined; burst?: number | undefined; floor?: number | undefined }

/** `in 512 (peak 1024, burst 64 KiB, floor 100) out 256`, or `-`. */
function limits(bw: { inbound?: Rates | undefined; outbound?: Rates | undefined } | undefined): string {
  const one = (dir: string, r: Rates | undefined): string | undefined => {
    if (!r) return undefined
    const extra = [r.peak !== undefined ? `peak ${r.peak}` : '', r.burst !== undefined ? `burst ${r.burst} KiB` : '', r.floor !== undefined ? `floor ${r.floor}` : ''].filter(Boolean)
    return `${dir} ${r.average ?? '-'}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`
  }
  const parts = [one('in', bw?.inbound), one('out', bw?.outbound)].filter((x): x is string => x !== undefined)
  return parts.length > 0 ? parts.join(' ') : '-'
}
