import { SpecError } from '../../errors.js'
import { openNetwork } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out } from '../output.js'
import { need, networkOptions } from './common.js'

/** `kvmnet port-xml NAME PORT`: the libvirt `<interface>` element for one port (--json: {"xml": …}). */
export default async function portXml(a: CliArgs): Promise<number> {
  const name = need(a, 'NAME')
  const port = a.positionals[1]
  if (!port) throw new SpecError('PORT', 'missing PORT (see kvmnet port-xml --help)')
  if (a.positionals.length > 2) throw new SpecError(a.positionals[2] ?? '', `unexpected argument (see kvmnet port-xml --help)`)
  const net = await openNetwork(name, networkOptions(a))
  try {
    const xml = net.libvirtInterfaceXml(port)
    out(a.json ? JSON.stringify({ network: name, port, xml }) : xml)
  } finally {
    net.close()
  }
  return 0
}
