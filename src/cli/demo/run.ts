/**
 * `kvmnet demo`: builds each network kind in scratch namespaces, measures it with real packets and a real
 * DHCP client, and prints the summary table from those measurements with per-step timings. Everything is
 * removed afterwards, also on Ctrl-C.
 */
import { ms, renderTable } from '../table.js'
import type { StepCategory } from '../../util/index.js'
import { Lab } from './lab.js'
import { bridgeRow, isolatedRow, macvtapHostAccessRow, macvtapPlainRow, natRow, openRow, routedRow, veryIsolatedRow, type Row } from './scenarios.js'

const SCENARIOS: { kind: string; run: (lab: Lab) => Promise<Row> }[] = [
  { kind: 'nat', run: natRow },
  { kind: 'routed', run: routedRow },
  { kind: 'open', run: openRow },
  { kind: 'isolated', run: isolatedRow },
  { kind: 'very-isolated', run: veryIsolatedRow },
  { kind: 'bridge', run: bridgeRow },
  { kind: 'macvtap', run: macvtapPlainRow },
  { kind: 'macvtap + hostAccess', run: macvtapHostAccessRow },
]

function cell(m: { ok: boolean }): string {
  return yn(m.ok)
}

function yn(b: boolean): string {
  return b ? 'yes' : 'no'
}

export async function runDemo(opts: { json: boolean }): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('kvmnet demo: needs root (it creates network namespaces)\n')
    return 1
  }
  const rows: Row[] = []
  const failures: string[] = []
  let lab: Lab | undefined
  let interrupted = false
  const onSignal = () => {
    interrupted = true
    process.stderr.write('\nkvmnet demo: interrupted, cleaning up...\n')
    void (lab?.dispose() ?? Promise.resolve()).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    for (const s of SCENARIOS) {
      if (interrupted) break
      lab = new Lab()
      if (!opts.json) process.stderr.write(`building ${s.kind}...\n`)
      try {
        rows.push(await s.run(lab))
      } catch (err) {
        failures.push(`${s.kind}: ${(err as Error).message}`)
      } finally {
        await lab.dispose()
        lab = undefined
      }
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ rows, failures }, null, 2)}\n`)
    return failures.length > 0 ? 1 : 0
  }
  const out = (s: string) => process.stdout.write(`${s}\n`)
  out('')
  out(
    renderTable(
      ['Network type', 'Host connectivity', 'External connectivity', 'DHCP available', 'IPv6 address (RA)', 'IPv6 outside'],
      rows.map((r) => [r.kind, cell(r.host), cell(r.external), cell(r.dhcp), r.ipv6 ? yn(r.ipv6.ra) : '-', r.ipv6 ? yn(r.ipv6.outside) : '-']),
    ),
  )
  out('')
  out('What was measured:')
  for (const r of rows) {
    out(`  ${r.kind}:`)
    out(`    host <-> guest: ${r.host.detail}`)
    out(`    guest -> outside: ${r.external.detail}`)
    out(`    DHCP: ${r.dhcp.detail}`)
    if (r.ipv6) out(`    IPv6: ${r.ipv6.detail}`)
  }
  out('')
  const cats: StepCategory[] = ['links', 'addresses', 'sysctls', 'nft', 'dnsmasq', 'state']
  out(
    renderTable(
      ['Network type', 'up (total)', ...cats, 'first lease', 'down'],
      rows.map((r) => [
        r.kind,
        ms(r.up.totalMs),
        ...cats.map((c) => {
          const v = r.up.byCategory[c]
          return v !== undefined ? ms(v) : '-'
        }),
        r.leaseMs !== undefined ? ms(r.leaseMs) : '-',
        r.down ? ms(r.down.totalMs) : '-',
      ]),
    ),
  )
  for (const f of failures) out(`FAILED ${f}`)
  return failures.length > 0 ? 1 : 0
}
