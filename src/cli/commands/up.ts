import { DEFAULT_STATE_ROOT, checkReachableBy, createNetwork, dnsmasqOf, prepareStateRoot, type Network, type NetworkSpecInput } from '../../network/index.js'
import { isTerminal, stepLabel, type StepEvent } from '../../util/index.js'
import type { CliArgs } from '../args.js'
import { ms, out, printReport, renderColumns } from '../output.js'
import { need, networkOptions, readSpec } from './common.js'
import { ForegroundSignals } from './up-foreground.js'

export default async function up(a: CliArgs): Promise<number> {
  const specPath = need(a, 'SPEC')
  // Foreground: the process also watches the network and puts back whatever of it is lost. createNetwork
  // checks the spec (once: validating it here as well cost a 1000-port spec its schema walk and copy twice).
  const options = networkOptions(a)
  const net = createNetwork((await readSpec(specPath)) as NetworkSpecInput, { ...options, dnsmasq: a.foreground ? 'supervised' : 'detached', watch: a.foreground })
  // Checked here too, to name the option as it was typed (Network.up checks it as stateRoot).
  const root = options.stateRoot ?? DEFAULT_STATE_ROOT
  if (!a.foreground && dnsmasqOf(net.plan)) checkReachableBy(root, 'nobody', '--state-root')
  prepareStateRoot(root, '--state-root')
  // Foreground: signals are handled from here on (see up-foreground.ts): one that arrives while the network
  // is still being built is kept, not fatal — the apply finishes (or rolls back) and the network is then
  // taken down, so nothing is left half-made.
  const signals = a.foreground ? new ForegroundSignals(net, specPath, { json: a.json, prune: a.prune }) : undefined
  try {
    // What will still block the network (a foreign table's drop policy, a firewall with coexistence off): one line each.
    net.on('warning', (w) => w.code !== 'libnftables-unavailable' && process.stderr.write(`${isTerminal(2) && !a.json ? '\r\x1b[K' : ''}kvmnet: warning: ${w.network}: ${w.message} [${w.code}: ${w.object}]; fix: ${w.fix}\n`))
    const stopProgress = isTerminal(2) && !a.json ? showProgress(net) : undefined
    if (signals) {
      net.on('repaired', (e) => out(a.json ? JSON.stringify({ event: 'repaired', network: net.name, what: e.what, ms: e.ms }) : `${net.name}: repaired ${e.what} in ${ms(e.ms)}`))
      net.on('repair-failed', (e) => {
        const why = e.error instanceof Error ? e.error.message : String(e.error)
        process.stderr.write(`kvmnet: ${net.name}: repairing ${e.what.join(', ')} failed: ${why}${e.retrying ? ' (retrying)' : ''}\n`)
      })
    }
    const r = await net.up(undefined, { prune: a.prune })
    if (stopProgress) {
      // Repairs later are reported as lines of their own.
      stopProgress()
      process.stderr.write('\r\x1b[K')
    }
    printReport(r, a.json, a.timings, 'up')
    if (!a.json) await printGuestFacts(net)
    if (!signals) {
      net.close()
      return 0
    }
    // Supervise until a signal, then take the network down.
    net.on('dnsmasq-restart', () => process.stderr.write(`kvmnet: dnsmasq of ${net.name} died and was restarted\n`))
    signals.running()
    await signals.untilStopped()
    return 0
  } finally {
    signals?.dispose()
  }
}

/** One line on a terminal while steps complete (hundreds of ports take a moment); nothing otherwise. */
function showProgress(net: Network): () => void {
  let n = 0
  const onStep = (e: StepEvent) => {
    if (e.phase !== 'apply') return
    n++
    process.stderr.write(`\r\x1b[K${net.name}: ${n} steps, last ${stepLabel(e)} (${e.outcome})`)
  }
  net.on('step', onStep)
  return () => net.off('step', onStep)
}

/** What a VM manager needs to attach guests: ports with guest MACs and devices, bridge, gateway, DNS. */
async function printGuestFacts(net: Network): Promise<void> {
  // Only a macvtap's device (/dev/tapN) is the kernel's to tell; taps are printed from the plan and the
  // handle's fds (for 1000 ports, a dump of 1000 links fewer before the command exits).
  const planned = net.plan.ports
  const ports = planned.some((p) => p.kind === 'macvtap')
    ? await net.ports()
    : planned.map((p) => ({ name: p.name, kind: p.kind, mac: p.mac, tapDevice: undefined, fds: net.portFdsOf(p.name) }))
  const dnsmasq = dnsmasqOf(net.plan)
  const gateway = dnsmasq?.dhcp?.router || (['nat', 'routed', 'open'].includes(net.mode) ? dnsmasq?.hostAddress : undefined)
  const dns = dnsmasq && dnsmasq.dns !== false ? dnsmasq.hostAddress : undefined
  const facts = [net.bridge && `bridge ${net.bridge}`, gateway && `gateway ${gateway}`, dns && `dns ${dns}`].filter(Boolean)
  if (facts.length > 0) out(facts.join(', '))
  if (ports.length > 0) {
    out(renderColumns(['port', 'kind', 'guest mac', 'device'], ports.map((p) => [p.name, p.kind, p.mac, p.tapDevice ?? (p.fds && p.fds.length > 0 ? `fds ${p.fds.join(',')}` : p.name)])))
  }
}
