import { readFile } from 'node:fs/promises'
import { Netns } from '../netns/index.js'
import { nsLabel } from '../netns/exec.js'
import { createNetwork, openNetwork, type ApplyReport } from '../network/network.js'
import { gc } from '../network/gc.js'
import { DEFAULT_STATE_ROOT, listStates, netnsIdentity } from '../network/state.js'
import { networkJsonSchema } from '../network/json-schema.js'
import { validateSpec } from '../network/validate.js'
import { SpecError } from '../errors.js'
import { ms, renderTable } from './table.js'
import { runDemo } from './demo/run.js'

export interface CliArgs {
  positionals: string[]
  netns?: string | undefined
  json?: boolean | undefined
  foreground?: boolean | undefined
  timings?: boolean | undefined
  prune?: boolean | undefined
  /** Seconds to wait for another writer of the same network (default 0: BusyError at once). */
  wait?: string | undefined
  'state-root'?: string | undefined
}

export const usage = `kvmnet — virtual networks for KVM/QEMU guests on the Linux kernel

Usage:
  kvmnet up SPEC.json [--foreground] [--prune] [--wait S]   create or converge a network (SPEC '-' reads stdin)
  kvmnet down NAME                                          remove a network and everything it created
  kvmnet status [NAME] [--json]                             what is there (all networks without NAME)
  kvmnet leases NAME [--json]                               DHCP leases
  kvmnet ports NAME [--json]                                VM ports (taps, macvtaps with /dev/tapN)
  kvmnet gc                                                 remove what crashed kvmnet processes left
  kvmnet demo                                               build all five kinds in scratch namespaces and measure them
  kvmnet schema                                             print the JSON Schema of SPEC.json

Every command takes --netns NS (a name under /run/netns or a path); a spec's "netns" field works too.
`

type Command = (a: CliArgs) => Promise<number>

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`)
}

function need(a: CliArgs, what: string): string {
  const v = a.positionals[0]
  if (!v) throw new SpecError(what, `missing ${what} (see kvmnet --help)`)
  return v
}

function opts(a: CliArgs) {
  const wait = a.wait === undefined ? 0 : Number(a.wait)
  if (!Number.isFinite(wait) || wait < 0) throw new SpecError('--wait', `'${a.wait}' is not a number of seconds`)
  return {
    ...(a.netns ? { netns: a.netns } : {}),
    ...(a['state-root'] ? { stateRoot: a['state-root'] } : {}),
    // An operator's command fails at once when another writer holds the network, rather than queueing.
    lockTimeoutMs: wait * 1000,
  }
}

function printReport(r: ApplyReport, a: CliArgs, verb: string): void {
  if (a.json) return out(JSON.stringify(r, null, 2))
  out(`${r.network}: ${verb} in ${ms(r.totalMs)}`)
  if (a.timings) {
    out(renderTable(['step', 'category', 'outcome', 'time'], r.steps.map((s) => [s.step, s.category, s.outcome, ms(s.ms)])))
  }
}

async function readSpec(path: string): Promise<unknown> {
  const text = path === '-' ? await readStdin() : await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new SpecError('SPEC', `cannot read ${path}: ${err.code ?? err.message}`)
  })
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new SpecError('SPEC', `${path} is not valid JSON: ${(err as Error).message}`)
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A namespace's state label, or one that matches nothing when the namespace file is gone. */
function stateLabelIfAny(ns: Netns): string {
  const id = netnsIdentity(ns)
  return id ? `ns-${id.replace(':', '-')}` : '-'
}

const up: Command = async (a) => {
  const spec = await readSpec(need(a, 'SPEC'))
  const net = createNetwork(validateSpec(spec), { ...opts(a), dnsmasq: a.foreground ? 'supervised' : 'detached' })
  // Foreground: a signal that arrives while the network is still being built is kept, not fatal — the
  // apply finishes (or rolls back) and the network is then taken down, so nothing is left half-made.
  const signalled = a.foreground
    ? new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
    : undefined
  const r = await net.up(undefined, { prune: a.prune ?? false })
  printReport(r, a, 'up')
  if (!signalled) {
    net.close()
    return 0
  }
  // Supervise until a signal, then take the network down.
  net.on('dnsmasq-restart', () => process.stderr.write(`kvmnet: dnsmasq of ${net.name} died and was restarted\n`))
  const keepAlive = setInterval(() => {}, 1 << 30)
  const sig = await signalled
  clearInterval(keepAlive)
  const d = await net.down()
  if (!a.json) out(`${net.name}: down (${sig}) in ${ms(d.totalMs)}`)
  return 0
}

const down: Command = async (a) => {
  const net = await openNetwork(need(a, 'NAME'), opts(a))
  const r = await net.down()
  printReport(r, a, 'down')
  return 0
}

const status: Command = async (a) => {
  const o = opts(a)
  const ns = o.netns ? Netns.open(o.netns) : Netns.current()
  const names = a.positionals[0]
    ? [a.positionals[0]]
    : (await listStates(o.stateRoot ?? DEFAULT_STATE_ROOT, stateLabelIfAny(ns))).map((s) => s.state.name).sort()
  const all = []
  for (const name of names) {
    const net = await openNetwork(name, o)
    try {
      all.push(await net.status())
    } finally {
      net.close()
    }
  }
  if (a.json) {
    out(JSON.stringify(a.positionals[0] ? all[0] : all, null, 2))
    return 0
  }
  if (all.length === 0) {
    out(`no kvmnet networks in ${nsLabel(ns)}`)
    return 0
  }
  out(
    renderTable(
      ['NAME', 'MODE', 'STATE', 'BRIDGE', 'ADDRESSES', 'PORTS', 'LEASES', 'DNSMASQ'],
      all.map((s) => [
        s.name,
        s.mode,
        s.up ? 'up' : `degraded: ${s.problems.join('; ')}`,
        s.bridge?.name ?? '-',
        s.addresses.join(' ') || '-',
        String(s.ports.length),
        String(s.leases.length),
        s.dnsmasq ? (s.dnsmasq.running ? `pid ${s.dnsmasq.pid}` : 'stopped') : '-',
      ]),
    ),
  )
  return all.every((s) => s.up) ? 0 : 1
}

const leases: Command = async (a) => {
  const net = await openNetwork(need(a, 'NAME'), opts(a))
  try {
    const ls = await net.leases()
    if (a.json) out(JSON.stringify(ls, null, 2))
    else
      out(
        renderTable(
          ['MAC', 'IP', 'HOSTNAME', 'EXPIRES'],
          ls.map((l) => [l.mac, l.ip, l.hostname ?? '-', l.expiresAt ? l.expiresAt.toISOString() : 'never']),
        ),
      )
  } finally {
    net.close()
  }
  return 0
}

const ports: Command = async (a) => {
  const net = await openNetwork(need(a, 'NAME'), opts(a))
  try {
    const ps = await net.ports()
    if (a.json) out(JSON.stringify(ps, null, 2))
    else
      out(
        renderTable(
          ['NAME', 'KIND', 'MAC', 'IFINDEX', 'STATE', 'DEVICE'],
          ps.map((p) => [p.name, p.kind, p.mac, String(p.index), p.up ? 'up' : 'down', p.tapDevice ?? '-']),
        ),
      )
  } finally {
    net.close()
  }
  return 0
}

const gcCmd: Command = async (a) => {
  const r = await gc(opts(a))
  if (a.json) out(JSON.stringify(r, null, 2))
  else {
    out(`networks taken down: ${r.networks.join(', ') || 'none'}`)
    out(`orphan links removed: ${r.links.join(', ') || 'none'}`)
    out(`orphan nft tables removed: ${r.tables.join(', ') || 'none'}`)
    for (const e of r.errors) out(`error: ${e}`)
  }
  return r.errors.length > 0 ? 1 : 0
}

const schema: Command = async () => {
  out(JSON.stringify(networkJsonSchema(), null, 2))
  return 0
}

const demo: Command = async (a) => runDemo({ json: a.json ?? false })

export const commands: Record<string, Command> = { up, down, status, leases, ports, gc: gcCmd, demo, schema }
