/** `kvmnet leases NAME --watch`: the leases there are ('present'), then events as they happen (JSON lines with --json), until Ctrl-C. */
import { LeaseWatcher, type Lease } from '../../dnsmasq/index.js'
import type { Network } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out } from '../output.js'

export async function watchLeases(net: Network, a: CliArgs): Promise<number> {
  const file = net.leaseFilePath()
  if (!file) {
    out(`kvmnet: ${net.name} runs no DHCP server`)
    return 1
  }
  const w = new LeaseWatcher(file)
  const show = (event: string) => (l: Lease) => {
    const port = net.plan.ports.find((p) => p.mac === l.mac)?.name
    if (a.json) out(JSON.stringify({ event, ...l, ...(port ? { port } : {}) }))
    else out(`${event} ${l.ip} ${l.mac}${port ? ` ${port}` : ''}${l.hostname ? ` ${l.hostname}` : ''}`)
  }
  w.on('lease-added', show('added'))
  w.on('lease-changed', show('changed'))
  w.on('lease-expired', show('expired'))
  await w.start()
  // What is there already, then what changes (a lease granted while the watch was starting is not lost).
  for (const l of await net.leases()) show('present')(l)
  const keepAlive = setInterval(() => undefined, 1 << 30)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  clearInterval(keepAlive)
  w.stop()
  return 0
}
