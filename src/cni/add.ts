/**
 * ADD: bring the network up if this is its first attachment, reserve an address for the attachment's MAC
 * from the DHCP range (under the network's lock, with its port mappings as forwards, in one apply) while
 * the links are made, configure the container's address and default route, and answer the result. A
 * failure undoes what this ADD made before the error is returned.
 */
import { Rtnl } from '../rtnl/index.js'
import { forwardKey } from '../network/index.js'
import { preloadLibnftables } from '../nft/index.js'
import type { CniConfig, CniNetworkSpec } from './config.js'
import { attachEdit, detachEdit, type Attached } from './edits.js'
import type { AttachmentEnv } from './env.js'
import { CniCode, CniError } from './errors.js'
import { attachmentMac, hostIfname, nameCandidates, type AttachmentKey } from './identity.js'
import { attachTap, attachVeth, detachLinks, type MadeLinks } from './links.js'
import { ensureUp } from './bring-up.js'
import { networkFacts } from './network.js'
import { removeRecord, writeRecord, type AttachmentRecord } from './records.js'
import { attachmentResult, type CniResult } from './result.js'
import { containerNs } from './sandbox.js'
import { assertNoServiceCapture } from './service-ports.js'
import { allAttempted, undoThenThrow } from '../errors.js'
import { isoTime } from '../util/index.js'

export async function add(cfg: CniConfig, e: AttachmentEnv & { netns: string }): Promise<CniResult> {
  const k: AttachmentKey = { network: cfg.spec.name, containerId: e.containerId, ifname: e.ifname }
  // Refused before anything is touched: not a network namespace (3), or the network's own (4).
  const contNs = containerNs(e.netns, cfg.spec)
  // Port mappings are forwards, applied through libnftables: its load begins on the pool now, while the
  // network is opened and the links are looked up, instead of on this thread in the middle of the apply.
  if (cfg.portMappings.length > 0) preloadLibnftables()
  await assertNoServiceCapture(cfg)
  // The plugin's rtnetlink requests are sent from a pool thread (RtnlSocketOptions.sendOffLoop): each waits
  // in the kernel for the rtnl lock all of the host's namespaces share (seen at 3-190 ms a request while
  // another process made taps), and on the event loop that wait stalled the apply as well. The apply's own
  // few requests stay on the loop: a pool round trip each costs more than it saves where nobody contends.
  const cont = Rtnl.open(contNs, { sendOffLoop: true })
  // Asked while the network is opened; answered (or failed) before anything is made.
  const existing = Promise.allSettled([cont.findLink(e.ifname)])
  const net = await ensureUp(cfg).catch((err: unknown) => {
    cont.close()
    throw err
  })
  const host = Rtnl.open(net.ns, { sendOffLoop: true })
  // The lease file read (a few trips through the thread pool) while the links are looked up and the record
  // is written; its failure is the ADD's once the reservation needs it.
  const leasesRead = Promise.allSettled([net.leases()])
  try {
    const f = networkFacts(net, k)
    const [found] = await existing
    if (found.status === 'rejected') throw found.reason
    if (found.value) throw new CniError(CniCode.InterfaceExists, 'interface exists', `${e.ifname} already exists in ${e.netns}`)
    const mac = cfg.mac ?? attachmentMac(k)
    // Recorded before anything is made: a DEL or GC after a crash at any later point finds what to remove.
    const record: AttachmentRecord = {
      containerId: e.containerId,
      ifname: e.ifname,
      netns: e.netns,
      attachment: cfg.attachment,
      mac,
      hostIfname: hostIfname(k),
      createdAt: isoTime(),
    }
    await writeRecord(net.stateDir, record)
    const decided: { value?: Attached } = {}
    let links: MadeLinks
    let a: Attached
    try {
      // The links need no address: made first (their create sent from a pool thread, see links.ts), while
      // the reservation is applied (its rules, dnsmasq's reload); both settled before either failure is
      // handled, so the undo below finds all there is.
      const make = cfg.attachment === 'tap' ? attachTap(host, cont, contNs, k, f, mac, cfg.tap) : attachVeth(host, cont, contNs, k, f, mac)
      // A veth's container gets its address from this result, not by DHCP: its reservation (kept so that
      // no DHCP client is offered the address) need not wait for dnsmasq to confirm the reload. A tap's
      // guest asks dnsmasq for its address as soon as it boots: that one waits.
      const reserve = leasesRead.then(([leases]) => {
        if (leases.status === 'rejected') throw leases.reason
        const leased = new Set(leases.value.filter((l) => l.family === 4 && l.mac !== mac).map((l) => l.ip))
        return net.update(
          (spec, runtime) => attachEdit(spec as CniNetworkSpec, runtime, { mac, names: nameCandidates(k, e.args), portMappings: cfg.portMappings, leased }, decided),
          { dnsmasqReload: cfg.attachment === 'tap' ? 'confirm' : 'signal' },
        )
      })
      const [reserved, made] = await Promise.allSettled([reserve, make])
      if (reserved.status === 'rejected') throw reserved.reason
      if (made.status === 'rejected') throw made.reason
      if (!decided.value) throw new CniError(CniCode.Internal, 'kvmnet-cni failed', 'the reservation was not made')
      a = decided.value
      await writeRecord(net.stateDir, { ...record, ip: a.ip, name: a.name, forwards: a.forwards.map(forwardKey) })
      links = 'address' in made.value ? await made.value.address(a.ip) : made.value
    } catch (err) {
      // Undone here rather than left to the DEL the runtime sends after a failed ADD (it may not); an undo
      // that fails too is reported with the failure (RollbackError), each part attempted regardless.
      const reserved = decided.value
      return await undoThenThrow(err, () =>
        allAttempted([
          () => detachLinks(host, cont, k, f.alias, f.group),
          () => (reserved ? net.update((spec, runtime) => detachEdit(spec as CniNetworkSpec, runtime, { mac, ip: reserved.ip }), { dnsmasqReload: 'signal' }) : Promise.resolve(undefined)),
          () => removeRecord(net.stateDir, record),
        ]),
      )
    }
    return attachmentResult(
      cfg.cniVersion,
      {
        host: { name: links.host.name, mac: links.host.mac },
        container: { name: e.ifname, mac: links.container.mac ?? mac, mtu: links.container.mtu },
        sandbox: e.netns,
        address: `${a.ip}/${f.prefixLength}`,
        gateway: f.gateway,
        defaultRoute: links.defaultRoute,
        nameserver: f.nameserver,
        domain: f.domain,
      },
      cfg.prevResult,
    )
  } finally {
    host.close()
    cont.close()
    net.close()
  }
}
