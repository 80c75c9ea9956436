/**
 * kvmnet import-libvirt FILE.xml|-: a libvirt network definition as a kvmnet spec on stdout, what differs
 * without changing what guests get as notes on stderr. What cannot carry over is one line naming the
 * element and attribute (exit 2). The XML parser is loaded with this command only.
 */
import { readFile } from 'node:fs/promises'
import { SpecError } from '../../errors.js'
import { fromLibvirtXml } from '../../libvirt/index.js'
import type { CliArgs } from '../args.js'
import { out } from '../output.js'

async function readText(path: string): Promise<string> {
  if (path !== '-') {
    return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new SpecError('FILE', `cannot read ${path}: ${err.code ?? err.message}`)
    })
  }
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export default async function importLibvirt(a: CliArgs): Promise<number> {
  const path = a.positionals[0]
  if (!path) throw new SpecError('FILE', 'missing FILE.xml (- reads stdin; see kvmnet import-libvirt --help)')
  const { spec, notes } = fromLibvirtXml(await readText(path), {
    ...(a.netns !== undefined ? { netns: a.netns } : {}),
    ...(a.interface !== undefined ? { bridgeInterface: a.interface } : {}),
  })
  for (const n of notes) process.stderr.write(a.json ? `${JSON.stringify({ note: n })}\n` : `kvmnet: note: ${n}\n`)
  out(JSON.stringify(spec, null, 2))
  return 0
}
