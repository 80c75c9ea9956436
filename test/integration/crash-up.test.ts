/**
 * SIGKILL of `kvmnet up` at random moments across the apply (not only during Node's start-up), for a
 * spec with DHCP, 20 forwards and 40 ports: after each kill, `down` (or `gc`) leaves no link, nft table,
 * dnsmasq or state file behind, and the next `up` succeeds.
 */
import t from 'tap'
import { execa } from 'execa'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gc } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { processesIn } from '../helpers/leftovers.js'
import { links } from '../helpers/ip.js'
import { scratchDir } from '../helpers/scratch.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
// Kills continue until this many landed mid-apply (the apply's length varies with the machine's load),
// within a bound on the total.
const MID_APPLY_KILLS = Number(process.env.KVMNET_CRASH_KILLS ?? 30)
const MAX_KILLS = MID_APPLY_KILLS * 3
// And within a bound on time, well inside the runner's 600 s per file: each kill costs a Node start, and
// under a load of 20 (two suites at once) that took 5-15 s, so 37 kills filled the 600 s. A machine that
// slow gets fewer kills, but never fewer than MIN_MID_APPLY_KILLS mid-apply.
const BUDGET_MS = 360_000
const MIN_MID_APPLY_KILLS = Math.min(10, MID_APPLY_KILLS)

function kvmnetArgs(args: string[]): string[] {
  return ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args]
}

const spec = {
  name: 'crash',
  mode: 'nat',
  ipv4: { address: '10.214.0.1/24', dhcp: { range: ['10.214.0.100', '10.214.0.200'] } },
  dns: { domain: 'crash.test' },
  forwards: Array.from({ length: 20 }, (_, i) => ({ proto: 'tcp', hostPort: 9000 + i, guest: `10.214.0.${10 + i}`, guestPort: 80 })),
  ports: Array.from({ length: 40 }, (_, i) => ({ name: `crash-p${i}` })),
}

/** What this network left in the namespace and the state root. */
async function leftovers(ns: TestNs, stateRoot: string): Promise<string[]> {
  const out: string[] = []
  for (const l of await links(ns)) if (l.ifalias?.startsWith('kvmnet:') || l.ifname.startsWith('crash-') || l.ifname === 'kvbr-crash') out.push(`link ${l.ifname}`)
  const tables = (await ns.run('nft', ['list', 'tables'])).trim()
  if (tables) out.push(`nft ${tables}`)
  for (const pid of processesIn(ns.path, 'dnsmasq')) out.push(`dnsmasq ${pid}`)
  if (existsSync(stateRoot)) for (const f of readdirSync(stateRoot, { recursive: true })) out.push(`file ${String(f)}`)
  return out
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function journalWritten(stateRoot: string): boolean {
  return existsSync(stateRoot) && readdirSync(stateRoot, { recursive: true }).some((f) => String(f).endsWith('network.json'))
}

/** Whether the state shows an apply under way (the kill came mid-apply) or finished. */
function phaseAtKill(stateRoot: string): 'none' | 'applying' | 'complete' {
  if (!existsSync(stateRoot)) return 'none'
  for (const f of readdirSync(stateRoot, { recursive: true })) {
    if (!String(f).endsWith('network.json')) continue
    const state = JSON.parse(readFileSync(join(stateRoot, String(f)), 'utf8')) as { applying?: unknown }
    return state.applying ? 'applying' : 'complete'
  }
  return 'none'
}

t.test(`SIGKILLs of kvmnet up at random moments (${MID_APPLY_KILLS} of them mid-apply) leave nothing down/gc cannot finish`, async (t) => {
  const ns = await makeNs(t, 'kvc')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  // Also after a failure: finish what is left (down while the namespace exists, then gc), then the root.
  t.teardown(async () => {
    await execa('node', kvmnetArgs(['down', 'crash', '--netns', ns.name, '--state-root', stateRoot]), { cwd: root, reject: false })
    await gc({ stateRoot }).catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  const file = join(scratchDir('kvmnet-crash-'), 'spec.json')
  writeFileSync(file, JSON.stringify(spec))
  const common = ['--netns', ns.name, '--state-root', stateRoot]

  // One full run: where the apply starts and how long it takes, to aim the kills at it.
  const started = performance.now()
  const full = await execa('node', kvmnetArgs(['up', file, ...common, '--json']), { cwd: root })
  const total = performance.now() - started
  let applyMs = (JSON.parse(full.stdout) as { totalMs: number }).totalMs
  const startup = Math.max(0, total - applyMs)
  await execa('node', kvmnetArgs(['down', 'crash', ...common]), { cwd: root })
  t.same(await leftovers(ns, stateRoot), [], 'a full up/down leaves nothing')

  const phases = { none: 0, applying: 0, complete: 0 }
  const began = performance.now()
  const outOfTime = () => performance.now() - began > BUDGET_MS && phases.applying >= MIN_MID_APPLY_KILLS
  for (let i = 0; i < MAX_KILLS && phases.applying < MID_APPLY_KILLS && !outOfTime(); i++) {
    // Most kills aim at the apply itself: from the moment its journal appears, uniform over its length
    // (the journal appears a little after the apply starts); every sixth lands anywhere in Node's start-up instead.
    const child = execa('node', kvmnetArgs(['up', file, ...common]), { cwd: root, reject: false })
    let at: number
    if (i % 6 === 5) {
      at = Math.random() * startup
      await sleep(at)
    } else {
      const t0 = performance.now()
      while (child.exitCode === null && !journalWritten(stateRoot)) await sleep(1)
      const delay = Math.random() * applyMs * 0.9
      await sleep(delay)
      at = performance.now() - t0
    }
    child.kill('SIGKILL')
    const ended = await child
    const phase = phaseAtKill(stateRoot)
    phases[phase]++
    // The first run's apply time is only an estimate (a loaded machine makes it vary several-fold): a kill
    // that came too late narrows the aim, so that the kills keep landing inside the apply.
    if (phase === 'complete' && i % 6 !== 5) applyMs *= 0.85
    // A finished `kvmnet up` is a detached network meant to outlive its creator: gc rightly keeps it,
    // so only cut-short applies go to gc.
    if (i % 2 === 0 || phase === 'complete') {
      const down = await execa('node', kvmnetArgs(['down', 'crash', ...common]), { cwd: root, reject: false })
      t.ok(down.exitCode === 0 || /no network named crash/.test(down.stderr), `kill ${i} at ${at.toFixed(0)} ms: down (${down.stderr.trim() || 'ok'})`)
    } else {
      const r = await gc({ netns: ns.name, stateRoot })
      t.same(r.errors, [], `kill ${i} at ${at.toFixed(0)} ms: gc`)
    }
    const left = await leftovers(ns, stateRoot)
    t.same(left, [], `kill ${i}: nothing left`)
    if (left.length > 0) {
      // What the killed process said, if it ended on its own before the kill (a failed apply).
      t.comment(`kill ${i}: exit ${ended.exitCode ?? ended.signal}; stderr: ${String(ended.stderr).trim()}`)
      break
    }
  }
  t.comment(`kill moments: ${phases.none} before the journal, ${phases.applying} mid-apply, ${phases.complete} after completion (apply ${applyMs.toFixed(0)} ms after ${startup.toFixed(0)} ms of start-up)`)
  if (outOfTime() && phases.applying < MID_APPLY_KILLS) t.comment(`out of time after ${((performance.now() - began) / 1000).toFixed(0)} s: ${phases.applying} mid-apply kills, not ${MID_APPLY_KILLS}`)
  t.ok(phases.applying >= MID_APPLY_KILLS || (outOfTime() && phases.applying >= MIN_MID_APPLY_KILLS), `at least ${MID_APPLY_KILLS} kills landed mid-apply, or ${MIN_MID_APPLY_KILLS} on a machine too slow for more in ${BUDGET_MS / 1000} s (${phases.applying})`)
  const again = await execa('node', kvmnetArgs(['up', file, ...common]), { cwd: root, reject: false })
  t.equal(again.exitCode, 0, `the next up succeeds (${again.stderr.trim()})`)
  await execa('node', kvmnetArgs(['down', 'crash', ...common]), { cwd: root, reject: false })
  t.same(await leftovers(ns, stateRoot), [], 'and its down leaves nothing')
})
