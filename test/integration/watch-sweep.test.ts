/**
 * Acceptance sweep: SIGTERM and SIGKILL sent to `kvmnet up --foreground` (the built CLI, dist/cli.js, so
 * that the first second covers the build itself) at 0-1 s after start, during repairs, and with the
 * network's lock held by another process. Every trial ends with the process gone and the network either
 * fully down, or — after a SIGKILL, which no process can answer — in a state from which the next
 * `up --foreground` brings it fully up under a live process (and its SIGTERM fully down). Never a stray
 * dnsmasq, never a lock still held. Bounded: a fixed list of trials, each with its own time limits.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { assertNothingLeft, processesIn } from '../helpers/leftovers.js'
import { holdLock, lockHeld, root, specFile, startForeground, type Foreground } from '../helpers/foreground.js'

const cliJs = join(root, 'dist/cli.js')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const NAME = 'kwsw'
const SPEC = { name: NAME, mode: 'nat', filtering: true, ipv4: { address: '10.240.0.1/24', dhcp: { range: ['10.240.0.100', '10.240.0.150'] } }, ports: [{ name: 'kwsw-p0' }, { name: 'kwsw-p1' }] }

/** The network's lock file: <state root>/ns-<dev>-<ino>/<name>.lock (the namespace's identity). */
function lockPath(host: TestNs, stateRoot: string): string {
  const st = statSync(host.path)
  return join(stateRoot, `ns-${st.dev}-${st.ino}`, `${NAME}.lock`)
}

function start(t: Test, host: TestNs, stateRoot: string, spec: string): Foreground {
  return startForeground(t, spec, host.name, stateRoot, [], ['node', cliJs])
}

const isUp = (fg: Foreground) => new RegExp(`${NAME}: up in`).test(fg.out())

/** Nothing of the network, no dnsmasq, the lock neither held nor left. */
async function fullyDown(t: Test, host: TestNs, stateRoot: string): Promise<void> {
  await assertNothingLeft(t, host, NAME, stateRoot)
  const lock = lockPath(host, stateRoot)
  t.notOk(lockHeld(lock), 'no lock held')
  t.notOk(existsSync(lock), 'no lock file left')
}

/** After a SIGKILL: no dnsmasq outlives it, no lock is held; a new foreground process takes over fully, and ends it fully. */
async function recovered(t: Test, host: TestNs, stateRoot: string, spec: string): Promise<void> {
  await waitFor(() => processesIn(host.path, 'dnsmasq').length === 0, 5000, 10).catch(() => false)
  t.same(processesIn(host.path, 'dnsmasq'), [], 'no dnsmasq outlives the killed process')
  t.notOk(lockHeld(lockPath(host, stateRoot)), 'no lock held')
  const next = start(t, host, stateRoot, spec)
  await waitFor(() => next.ended() || isUp(next), 30_000, 10)
  t.ok(isUp(next), `a new up --foreground brings it up (stderr: ${next.err().trim() || 'none'})`)
  const status = await execa('node', [cliJs, 'status', NAME, '--json', '--netns', host.name, '--state-root', stateRoot], { reject: false })
  t.same((JSON.parse(status.stdout) as { problems?: string[] }).problems ?? [], [], 'fully up: status finds no problem')
  t.equal(processesIn(host.path, 'dnsmasq').length, 1, 'supervised by the live process')
  next.proc.kill('SIGTERM')
  const r = await next.end(30_000)
  t.equal(r.exitCode, 0, 'and its SIGTERM ends it')
  await fullyDown(t, host, stateRoot)
}

/** The end of a trial: the process is gone within the limit; then the network is fully down or recoverable. */
async function settle(t: Test, fg: Foreground, sig: 'SIGTERM' | 'SIGKILL', host: TestNs, stateRoot: string, spec: string): Promise<void> {
  const r = await fg.end(60_000)
  t.pass(`the process is gone (exit ${r.exitCode ?? r.signal})`)
  if (sig === 'SIGKILL') return recovered(t, host, stateRoot, spec)
  // Killed before its handlers were installed (nothing built yet), or ended by its own teardown.
  t.ok(r.exitCode === 0 || r.signal === 'SIGTERM', `SIGTERM: exit 0, or death before anything was built (${fg.err().trim() || 'no stderr'})`)
  await fullyDown(t, host, stateRoot)
}

t.test('0-1 s after start', async (t) => {
  const host = await makeNs(t, 'kw')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const spec = specFile(SPEC)
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const at of [0, 150, 300, 500, 750, 1000]) {
      await t.test(`${sig} ${at} ms after start`, async (t) => {
        const fg = start(t, host, stateRoot, spec)
        await sleep(at)
        fg.proc.kill(sig)
        await settle(t, fg, sig, host, stateRoot, spec)
      })
    }
  }
})

t.test('during repairs', async (t) => {
  const host = await makeNs(t, 'kw')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const spec = specFile(SPEC)
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const at of [0, 15, 30, 60, 120]) {
      await t.test(`${sig} ${at} ms after the bridge, the ruleset and dnsmasq were lost`, async (t) => {
        const fg = start(t, host, stateRoot, spec)
        await waitFor(() => fg.ended() || isUp(fg), 30_000, 10)
        t.ok(isUp(fg), 'up')
        await waitFor(() => processesIn(host.path, 'dnsmasq').length === 1, 10_000, 10)
        const [dnsmasq] = processesIn(host.path, 'dnsmasq')
        process.kill(dnsmasq ?? 0, 'SIGKILL')
        await host.run('sh', ['-c', 'ip link del kvbr-kwsw; nft flush ruleset'])
        await sleep(at)
        fg.proc.kill(sig)
        await settle(t, fg, sig, host, stateRoot, spec)
      })
    }
  }
})

t.test('with the lock held elsewhere', async (t) => {
  const host = await makeNs(t, 'kw')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const spec = specFile(SPEC)
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const holdMs of [0, 300, 1000]) {
      await t.test(`${sig} while another process holds the lock (released after ${holdMs} ms)`, async (t) => {
        const fg = start(t, host, stateRoot, spec)
        await waitFor(() => fg.ended() || isUp(fg), 30_000, 10)
        t.ok(isUp(fg), 'up')
        const held = await holdLock(t, lockPath(host, stateRoot))
        // A loss too: the watcher's repair waits for the same lock.
        await host.run('nft', ['flush', 'ruleset'])
        await sleep(50)
        fg.proc.kill(sig)
        await sleep(holdMs)
        await held.release()
        await settle(t, fg, sig, host, stateRoot, spec)
      })
    }
  }
  await t.test('SIGTERM while the lock is held from before the start: up refuses, nothing is left', async (t) => {
    const lock = lockPath(host, stateRoot)
    mkdirSync(dirname(lock), { recursive: true })
    const held = await holdLock(t, lock)
    const fg = start(t, host, stateRoot, spec)
    await sleep(300)
    fg.proc.kill('SIGTERM')
    const r = await fg.end(30_000)
    t.not(r.exitCode, 0, `up did not run: ${fg.err().trim()}`)
    await held.release()
    await assertNothingLeft(t, host, NAME, stateRoot)
    t.notOk(lockHeld(lock), 'no lock held')
    // The file and its directory are the test's own (made for flock(1) above).
    rmSync(dirname(lock), { recursive: true, force: true })
  })
})
