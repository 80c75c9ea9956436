import { gc } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out } from '../output.js'
import { networkOptions } from './common.js'

export default async function gcCommand(a: CliArgs): Promise<number> {
  const o = networkOptions(a)
  const r = await gc({ ...(o.netns ? { netns: o.netns } : {}), ...(o.stateRoot ? { stateRoot: o.stateRoot } : {}) })
  if (a.json) out(JSON.stringify(r, null, 2))
  else {
    out(`networks taken down: ${r.networks.join(', ') || 'none'}`)
    out(`orphaned networks cleaned: ${r.orphaned.join(', ') || 'none'}`)
    out(`orphan links removed: ${r.links.join(', ') || 'none'}`)
    out(`orphan nft tables removed: ${r.tables.join(', ') || 'none'}`)
    for (const u of r.unreadable) out(`unreadable state, network left alone: ${u.network} (${u.reason})`)
    for (const e of r.errors) out(`error: ${e}`)
  }
  return r.errors.length > 0 || r.unreadable.length > 0 ? 1 : 0
}
