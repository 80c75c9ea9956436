/**
 * The network's dnsmasq: started when the plan has one and none runs, reloaded when its config changed,
 * stopped when a converge leaves the kind with nothing for it to serve.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Dnsmasq, usesNamespaceResolvers } from '../../dnsmasq/index.js'
import type { ApplyContext } from '../driver.js'
import type { DnsmasqPlan } from '../plan.js'
import { tightenDnsmasqFiles } from './dnsmasq-files.js'
import type { NetnsRef } from '../../netns/index.js'

/**
 * The resolv.conf of the namespace the network runs in, as `ip netns exec NAME` shows it to programs:
 * /etc/netns/NAME/resolv.conf when a named namespace has one, else /etc/resolv.conf (dnsmasq runs through
 * nsenter, which does not bind-mount it, so it is named here).
 */
export function namespaceResolvConf(ns: NetnsRef): string {
  const own = ns.name !== undefined && !ns.name.includes('/') ? `/etc/netns/${ns.name}/resolv.conf` : undefined
  return own !== undefined && existsSync(own) ? own : '/etc/resolv.conf'
}

export async function ensureDnsmasq(ctx: ApplyContext, planned: DnsmasqPlan | undefined): Promise<void> {
  const { state, tx } = ctx
  if (!planned) {
    if (!ctx.prev?.dnsmasq && !state.dnsmasq) return
    await tx.step('dnsmasq-stop', 'dnsmasq', async (s) => {
      const d = await ctx.dnsmasq.current(state)
      await d?.stop()
      ctx.dnsmasq.set(undefined)
      state.dnsmasq = undefined
      s.outcome('removed')
    })
    return
  }
  const stateDir = join(ctx.stateDir, 'dnsmasq')
  // No forwarders in the spec (or only domain-limited ones): upstream is the namespace's own resolvers, like
  // any program run there.
  const dns = planned.dns && usesNamespaceResolvers(planned.dns.forwarders) ? { ...planned.dns, resolvFile: namespaceResolvConf(ctx.ns) } : planned.dns
  const spec = { ...planned, dns, stateDir }
  await tx.step('dnsmasq', 'dnsmasq', async (s) => {
    const ifindex = (await ctx.rtnl.findLink(planned.interface))?.index
    let running = await ctx.dnsmasq.current(state)
    let repair = false
    if (running && state.dnsmasq?.ifindex !== undefined && state.dnsmasq.ifindex !== ifindex) {
      // The bridge was deleted and made again: dnsmasq still listens on the dead interface index, and
      // no guest would get a lease. Start it afresh on the new one.
      await running.stop()
      ctx.dnsmasq.set(undefined)
      running = undefined
      repair = true
    }
    if (running) {
      const changed = await running.reload(spec, { confirm: ctx.dnsmasqReload !== 'signal' })
      await tightenDnsmasqFiles(stateDir)
      if (state.dnsmasq) state.dnsmasq.ifindex = ifindex
      s.outcome(changed === false ? 'unchanged' : 'updated')
      return
    }
    const detached = ctx.dnsmasq.mode === 'detached'
    const d = new Dnsmasq(ctx.ns, spec, { detached })
    ctx.dnsmasq.set(d)
    // Journalled before the spawn: a crash between spawn and the end of the apply leaves a dnsmasq that
    // `down` finds from this directory.
    state.dnsmasq = { stateDir, detached, ifindex }
    await ctx.journal()
    try {
      await d.start()
      await tightenDnsmasqFiles(stateDir)
    } catch (err) {
      ctx.dnsmasq.set(undefined)
      state.dnsmasq = undefined
      throw err
    }
    s.outcome(repair ? 'repaired' : 'created')
    s.onUndo(async () => {
      ctx.dnsmasq.set(undefined)
      state.dnsmasq = undefined
      await d.stop()
    })
  })
}
