/**
 * Imperative changes without editing the spec file, like `virsh net-update`: `port add|rm`, `forward
 * add|rm`, `reservation add|rm`. The network's recorded spec is updated (as runtime additions), so a later
 * `up` of the file shows them as a visible difference (WouldRemoveError, or --prune), never a silent removal.
 */
import { SpecError } from '../../errors.js'
import { openNetwork, type PortSpec } from '../../network/index.js'
import type { CliArgs } from '../args.js'
import { out, printReport } from '../output.js'
import { networkOptions } from './common.js'

function arg(a: CliArgs, i: number, what: string): string {
  const v = a.positionals[i]
  if (!v) throw new SpecError(what, `missing ${what} (see kvmnet ${a.command} --help)`)
  return v
}

function num(v: string, what: string): number {
  const n = Number(v)
  if (!Number.isInteger(n)) throw new SpecError(what, `'${v}' is not a whole number`)
  return n
}

/** `3000` or `3000-3010`. */
function ports(v: string, what: string): number | [number, number] {
  const m = v.match(/^(\d+)-(\d+)$/)
  return m ? [num(m[1] ?? '', what), num(m[2] ?? '', what)] : num(v, what)
}

/** `10.0.0.5`, `10.0.0.5:80`, `fd00::5`, `[fd00::5]:80`. */
function parseTarget(v: string): { guest: string; guestPort?: string } {
  const v6 = v.match(/^\[([^\]]+)\](?::(\d+))?$/)
  if (v6) return { guest: v6[1] ?? v, ...(v6[2] ? { guestPort: v6[2] } : {}) }
  const v4 = v.match(/^([0-9.]+):(\d+)$/)
  if (v4) return { guest: v4[1] ?? v, guestPort: v4[2] ?? '' }
  return { guest: v }
}

export default async function change(a: CliArgs): Promise<number> {
  const verb = arg(a, 0, 'add|rm')
  if (verb !== 'add' && verb !== 'rm') throw new SpecError('add|rm', `'${verb}' is neither add nor rm`)
  const net = await openNetwork(arg(a, 1, 'NET'), networkOptions(a))
  try {
    if (a.command === 'port') {
      const name = arg(a, 2, 'NAME')
      if (verb === 'rm') {
        await net.removePort(name, { force: a.force })
        out(`${net.name}: port ${name} removed`)
        return 0
      }
      // A macvtap port has no owner or queues: the spec's schema refuses them on such a network.
      const port: PortSpec = {
        name,
        ...(a.mac ? { mac: a.mac } : {}),
        ...(a.owner !== undefined ? { owner: num(a.owner, '--owner') } : {}),
        ...(a.queues !== undefined ? { queues: num(a.queues, '--queues') } : {}),
      }
      const p = await net.addPort(port)
      if (a.json) out(JSON.stringify(p, null, 2))
      else out(`${net.name}: port ${p.name} (${p.kind}) guest mac ${p.mac}${p.tapDevice ? ` ${p.tapDevice}` : ''}`)
      return 0
    }
    if (a.command === 'forward') {
      // forward add NET PROTO HOSTPORT GUEST[:PORT] / forward rm NET PROTO HOSTPORT
      const proto = arg(a, 2, 'PROTO')
      if (proto !== 'tcp' && proto !== 'udp') throw new SpecError('PROTO', `'${proto}' is not tcp or udp`)
      const hostPort = ports(arg(a, 3, 'HOSTPORT'), 'HOSTPORT')
      if (verb === 'rm') {
        printReport(await net.removeForward({ proto, hostPort }), a.json, a.timings, `forward ${proto}/${arg(a, 3, 'HOSTPORT')} removed`)
        return 0
      }
      const target = arg(a, 4, 'GUEST')
      const { guest, guestPort } = parseTarget(target)
      printReport(
        await net.addForward({ proto, hostPort, guest, ...(guestPort !== undefined ? { guestPort: num(guestPort, 'GUEST') } : {}) }),
        a.json,
        a.timings,
        `forward ${proto}/${arg(a, 3, 'HOSTPORT')} -> ${target} added`,
      )
      return 0
    }
    // reservation add NET MAC IP [NAME] / reservation rm NET MAC|IP
    if (verb === 'rm') {
      printReport(await net.removeReservation(arg(a, 2, 'MAC')), a.json, a.timings, 'reservation removed')
      return 0
    }
    const name = a.positionals[4]
    printReport(await net.addReservation({ mac: arg(a, 2, 'MAC'), ip: arg(a, 3, 'IP'), ...(name ? { name } : {}) }), a.json, a.timings, 'reservation added')
    return 0
  } finally {
    net.close()
  }
}
