import { doctor } from '../../doctor/index.js'
import type { CliArgs } from '../args.js'
import { out, renderColumns } from '../output.js'
import { networkOptions } from './common.js'

/**
 * Exit 0 when nothing blocks the namespace's networks (warnings are printed but pass), 1 with errors.
 * Without a network named, the host's run-time requirements come first, one line each.
 */
export default async function doctorCommand(a: CliArgs): Promise<number> {
  const o = networkOptions(a)
  const r = await doctor({ ...(o.netns ? { netns: o.netns } : {}), ...(o.stateRoot ? { stateRoot: o.stateRoot } : {}), ...(a.positionals[0] ? { network: a.positionals[0] } : {}) })
  if (a.json) out(JSON.stringify(r, null, 2))
  else {
    if (r.host) out(`${renderColumns(['requirement', 'status', 'found', 'debian package'], r.host.map((c) => [c.requirement, c.status, c.found, c.package]))}\n`)
    if (r.findings.length === 0) out(`no problems found for ${r.networks.length > 0 ? r.networks.join(', ') : 'kvmnet'} in ${r.netns}`)
    else out(renderColumns(['code', 'severity', 'network', 'object', 'problem', 'fix'], r.findings.map((f) => [f.code, f.severity, f.network ?? '-', f.object, f.problem, f.fix])))
  }
  return r.findings.some((f) => f.severity === 'error') ? 1 : 0
}
