/**
 * status / list: networks with state under the state root — of one namespace, or (--all, list) of every
 * namespace — read from the kernel. A network whose namespace was deleted under it shows as orphaned
 * (`kvmnet gc` finishes it). With no state at all, nothing else is loaded.
 */
import { existsSync } from 'node:fs'
import type { CliArgs } from '../args.js'
import { out, renderColumns } from '../output.js'
import { networkOptions } from './options.js'
import { DEFAULT_STATE_ROOT, reportNoNetworks } from './status-empty.js'

/** `--json`: a network's status, or what is known of one that cannot be looked at (orphaned, unreadable). */
type StatusJson = import('../../network/index.js').NetworkStatus | { name: string; up: false; problems: string[]; [more: string]: unknown }

interface Row {
  name: string
  netns: string
  mode: string
  state: string
  bridge: string
  addresses: string
  ports: string
  leases: string
  dnsmasq: string
  /** `vni 42: 198.51.100.2 198.51.100.3` for a network with a vxlan segment, else '-'. */
  vxlan: string
}

export default async function status(a: CliArgs): Promise<number> {
  const o = networkOptions(a)
  const root = o.stateRoot ?? DEFAULT_STATE_ROOT
  const all = a.all || a.command === 'list'
  const name = a.positionals[0]
  if (name !== undefined) {
    // A NAME that no network can have is bad input (exit 2), not a network that happens to be missing.
    const { isNetworkName, NETWORK_NAME_RULE } = await import('../../util/index.js')
    if (!isNetworkName(name)) {
      const { SpecError } = await import('../../errors.js')
      throw new SpecError('NAME', `'${name}' is not a network name (${NETWORK_NAME_RULE})`)
    }
  }
  // Nothing recorded anywhere: answer without loading the network layer (or netlink).
  if (!name && !existsSync(root)) return reportNoNetworks(a)
  // From here the network layer is loaded; with it, nft's fallback warning (common.ts).
  await import('./common.js')
  const { Netns } = await import('../../netns/index.js')
  const { listStates, namespaceAlive, namespacePath, netnsIdentity } = await import('../../network/index.js')
  const ns = o.netns ? Netns.open(o.netns) : Netns.current()
  const here = netnsIdentity(ns)
  const listing = await listStates(root)
  const states = listing.states.filter((s) => (all || s.state.netnsId === here || !namespaceAlive(s.state)) && (!name || s.state.name === name))
  // A state file that cannot be read still names a network that is someone's: reported, never hidden.
  const label = here === undefined ? undefined : `ns-${here.replace(':', '-')}`
  const unreadable = listing.unreadable.filter((u) => (all || u.dir.split('/').at(-2) === label) && (!name || u.name === name))
  if (name && states.length === 0 && unreadable.length === 0) {
    const { NotFoundError } = await import('../../errors.js')
    throw new NotFoundError(`network ${name}`, `no network named ${name} in ${a.netns ?? 'this namespace'}`)
  }
  const { openNetwork } = await import('../../network/index.js')
  const full: StatusJson[] = []
  const rows: Row[] = []
  for (const u of unreadable) {
    rows.push({ name: u.name, netns: u.dir.split('/').at(-2) ?? '-', mode: '?', state: `unreadable state: ${u.error.message}`, bridge: '-', addresses: '-', ports: '-', leases: '-', dnsmasq: '-', vxlan: '-' })
    full.push({ name: u.name, up: false, unreadable: true, problems: [`state file ${u.error.path} cannot be read: ${u.error.message}`] })
  }
  for (const { state } of states.sort((x, y) => x.state.name.localeCompare(y.state.name))) {
    const where = state.netnsName ?? state.netnsPath
    if (!namespaceAlive(state)) {
      rows.push({ name: state.name, netns: where, mode: state.spec.mode, state: 'orphaned (namespace gone; run kvmnet gc)', bridge: state.bridge ?? '-', addresses: '-', ports: '-', leases: '-', dnsmasq: '-', vxlan: '-' })
      full.push({ name: state.name, netns: where, mode: state.spec.mode, up: false, orphaned: true, problems: ['namespace deleted'] })
      continue
    }
    const net = await openNetwork(state.name, { ...o, netns: Netns.open(namespacePath(state) ?? state.netnsPath) })
    try {
      const s = await net.status()
      full.push(s)
      rows.push({
        name: s.name,
        netns: where,
        mode: s.mode,
        state: s.up ? 'up' : `degraded: ${s.problems.join('; ')}`,
        bridge: s.bridge?.name ?? '-',
        addresses: s.addresses.join(' ') || '-',
        ports: String(s.ports.length),
        leases: String(s.leases.length),
        dnsmasq: s.dnsmasq ? (s.dnsmasq.running ? `pid ${s.dnsmasq.pid}` : 'stopped') : '-',
        vxlan: s.vxlan ? `${s.vxlan.name} vni ${s.vxlan.vni}: ${s.vxlan.group ? `group ${s.vxlan.group}` : s.vxlan.peers.join(' ') || 'no peers'}` : '-',
      })
    } finally {
      net.close()
    }
  }
  if (a.json) {
    out(JSON.stringify(name ? full[0] : full, null, 2))
    return full.every((s) => s.up) ? 0 : 1
  }
  return report(a, rows)
}

function report(a: CliArgs, rows: Row[]): number {
  if (rows.length === 0) return reportNoNetworks(a)
  const all = a.all || a.command === 'list'
  // The vxlan column only where a network has one: most hosts never stretch a network.
  const vx = rows.some((r) => r.vxlan !== '-')
  const headers = ['name', ...(all ? ['netns'] : []), 'mode', 'state', 'bridge', 'addresses', 'ports', 'leases', 'dnsmasq', ...(vx ? ['vxlan'] : [])]
  out(renderColumns(headers, rows.map((r) => [r.name, ...(all ? [r.netns] : []), r.mode, r.state, r.bridge, r.addresses, r.ports, r.leases, r.dnsmasq, ...(vx ? [r.vxlan] : [])])))
  return rows.every((r) => r.state === 'up') ? 0 : 1
}
