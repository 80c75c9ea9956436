import { setFlagsFromString } from 'node:v8'
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
  const input = await readSpec(specPath)
  if (!a.foreground && portCount(input) >= MANY_PORTS) withoutTurbofan()
  const net = createNetwork(input as NetworkSpecInput, { ...options, dnsmasq: a.foreground ? 'supervised' : 'detached', watch: a.foreground })
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

/**
 * From this many ports, a process that exits once the network is up runs without TurboFan. Its per-port
 * loops (the spec's check, the plan, each link's encoding) run often enough for V8 to optimize them on a
 * background thread, work the process ends before it pays back. 1000 ports, callgrind: 997M instructions
 * in all with it, 593M without (the main thread's 480M became 555M, the compiler threads' ~500M went);
 * 16 interleaved runs at load ~5 on 2 cores: 0.79x the wall time, 0.62x the user CPU. Below it neither
 * the flag nor node:v8 (it loads Node's streams: ~8M instructions, a one-port up's 4%); one port gained
 * nothing from the flag. `--foreground` keeps TurboFan: it lives on, repairing the network again and again.
 */
const MANY_PORTS = 100

function withoutTurbofan(): void {
  setFlagsFromString('--no-opt')
  // Before the code cache is written at exit (a listener added when the bundle was loaded): the cache is
  // checked against the flags of the process that loads it, which compiles under V8's defaults. Written
  // under --no-opt, every later command would reject it and compile the bundle anew.
  process.prependOnceListener('exit', () => setFlagsFromString('--opt'))
}

function portCount(input: unknown): number {
  const ports = typeof input === 'object' && input !== null ? (input as { ports?: unknown }).ports : undefined
  return Array.isArray(ports) ? ports.length : 0
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
