/**
 * CHECK: the attachment is as the previous ADD's result (prevResult) says, and what it relies on is there:
 * the container interface (MAC, up, its address and the default route it got), the host end on the
 * network's bridge, the reservation MAC → address, its forwards, and a healthy network (bridge, nft
 * rules, dnsmasq). The first problems found are the error's details.
 */
import { Rtnl } from '../rtnl/index.js'
import { forwardKey, forwardsOf } from '../network/index.js'
import type { CniConfig, CniNetworkSpec } from './config.js'
import type { AttachmentEnv } from './env.js'
import { CniCode, CniError } from './errors.js'
import { hostIfname, innerIfname, type AttachmentKey } from './identity.js'
import { networkFacts, openIfUp } from './network.js'
import { readRecord } from './records.js'
import type { CniResult } from './result.js'
import { containerNs } from './sandbox.js'

function broken(problems: string[]): CniError {
  return new CniError(CniCode.AttachmentBroken, 'attachment not as expected', problems.join('; '))
}

export async function check(cfg: CniConfig, e: AttachmentEnv & { netns: string }): Promise<void> {
  const prev = cfg.prevResult as CniResult | undefined
  if (!prev || typeof prev !== 'object') throw new CniError(CniCode.InvalidConfig, 'invalid network configuration', 'prevResult: CHECK needs the result of the ADD')
  const k: AttachmentKey = { network: cfg.spec.name, containerId: e.containerId, ifname: e.ifname }
  const net = await openIfUp(cfg)
  if (!net) throw new CniError(CniCode.NetworkBroken, 'network not up', `network ${cfg.spec.name} is not up`)
  try {
    const status = await net.status()
    if (status.problems.length > 0) throw new CniError(CniCode.NetworkBroken, 'network not healthy', status.problems.join('; '))
    const f = networkFacts(net, k)
    const problems: string[] = []
    const ifIndex = (prev.interfaces ?? []).findIndex((i) => i.name === e.ifname && i.sandbox === e.netns)
    const want = prev.interfaces?.[ifIndex]
    if (!want) throw broken([`prevResult has no interface ${e.ifname} in ${e.netns}`])
    const ips = (prev.ips ?? []).filter((i) => i.interface === ifIndex).map((i) => i.address)
    const record = await readRecord(net.stateDir, k)
    if (!record) problems.push('no record of this attachment (not added, or deleted since)')
    const tap = record?.attachment === 'tap' || cfg.attachment === 'tap'

    const cont = Rtnl.open(containerNs(e.netns, cfg.spec))
    try {
      const link = await cont.findLink(e.ifname)
      if (!link) problems.push(`${e.ifname} is missing in ${e.netns}`)
      else {
        if (link.alias !== f.alias) problems.push(`${e.ifname} is not this attachment's`)
        if (want.mac && link.mac !== want.mac.toLowerCase()) problems.push(`${e.ifname} has MAC ${link.mac}, not ${want.mac}`)
        if (!link.up) problems.push(`${e.ifname} is down`)
        if (tap) {
          if (link.kind !== 'tun') problems.push(`${e.ifname} is a ${link.kind ?? 'device'}, not a tap`)
          const inner = await cont.findLink(innerIfname(k))
          if (!inner?.up) problems.push(`${innerIfname(k)} (the tap's way to the bridge) is ${inner ? 'down' : 'missing'}`)
        } else {
          const have = new Set((await cont.listAddresses(link.index)).map((a) => `${a.address}/${a.prefixLength}`))
          for (const ip of ips) if (!have.has(ip)) problems.push(`${e.ifname} lacks its address ${ip}`)
          for (const r of prev.routes ?? []) {
            if (r.dst !== '0.0.0.0/0' || !r.gw) continue
            const def = (await cont.listRoutes({ family: 4 })).find((x) => x.dst === 'default' && x.gateway === r.gw)
            if (!def) problems.push(`no default route via ${r.gw} in ${e.netns}`)
          }
        }
      }
    } finally {
      cont.close()
    }

    const host = Rtnl.open(net.ns)
    try {
      const end = await host.findLink(hostIfname(k))
      const bridge = await host.findLink(f.bridge)
      if (!end) problems.push(`host end ${hostIfname(k)} is missing`)
      else {
        if (end.alias !== f.alias) problems.push(`host end ${end.name} is not this attachment's`)
        if (!bridge || end.master !== bridge.index) problems.push(`host end ${end.name} is not on ${f.bridge}`)
        if (!end.up) problems.push(`host end ${end.name} is down`)
      }
    } finally {
      host.close()
    }

    const spec = net.spec as CniNetworkSpec
    const mac = (record?.mac ?? want.mac ?? '').toLowerCase()
    const reservation = (spec.ipv4?.dhcp?.hosts ?? []).find((h) => h.mac.toLowerCase() === mac)
    const address = ips[0]?.split('/')[0]
    if (!reservation) problems.push(`no reservation for ${mac}`)
    else if (address && reservation.ip !== address) problems.push(`the reservation for ${mac} is ${reservation.ip}, not ${address}`)
    const forwards = new Set(forwardsOf(spec).filter((g) => g.guest === reservation?.ip).map(forwardKey))
    for (const key of record?.forwards ?? []) if (!forwards.has(key)) problems.push(`forward ${key} is missing`)
    if (problems.length > 0) throw broken(problems)
  } finally {
    net.close()
  }
}
