/**
 * Signals to `kvmnet up --foreground`: SIGTERM/SIGINT always end it with the network fully down — also
 * while its own repair holds the network's lock, while another writer holds it, and when a second signal
 * arrives during the teardown; SIGHUP reloads the spec file and converges; a dnsmasq killed during the
 * first start is restarted or `up` fails cleanly.
 */
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { link } from '../helpers/ip.js'
import { assertNothingLeft, processesIn } from '../helpers/leftovers.js'
import { holdLock, lockFileOf, lockHeld, specFile, startForeground, type Foreground } from '../helpers/foreground.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function natSpec(name: string, octet: number, ports: string[] = [`${name}-p0`]): Record<string, unknown> {
  return { name, mode: 'nat', ipv4: { address: `10.${octet}.0.1/24`, dhcp: { range: [`10.${octet}.0.100`, `10.${octet}.0.150`] } }, ports: ports.map((p) => ({ name: p })) }
}

async function upForeground(t: Test, host: TestNs, spec: Record<string, unknown>): Promise<{ fg: Foreground; stateRoot: string; file: string }> {
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const file = specFile(spec)
  const fg = startForeground(t, file, host.name, stateRoot)
  await waitFor(() => fg.ended() || new RegExp(`${String(spec['name'])}: up in`).test(fg.out()), 60_000, 20)
  t.notOk(fg.ended(), `${String(spec['name'])} is up under a live process`)
  await waitFor(() => processesIn(host.path, 'dnsmasq').length === 1, 10_000, 10)
  return { fg, stateRoot, file }
}

/** The process ended by itself (exit 0), the network is fully down, and its lock is neither held nor left. */
async function endedDown(t: Test, fg: Foreground, host: TestNs, name: string, stateRoot: string): Promise<void> {
  const r = await fg.end(60_000)
  t.equal(r.exitCode, 0, `the process ended with 0 (stderr: ${fg.err().trim() || 'none'})`)
  await assertNothingLeft(t, host, name, stateRoot)
  const lock = lockFileOf(stateRoot, name)
  t.notOk(lock && lockHeld(lock), 'the lock is not held')
  t.equal(lock, undefined, 'and no lock file is left')
}

t.test('SIGTERM 20-35 ms after its dnsmasq is SIGKILLed (a repair holds the lock): ends, network down', async (t) => {
  for (const delay of [20, 26, 30, 35]) {
    await t.test(`SIGTERM ${delay} ms after`, async (t) => {
      const host = await makeNs(t, 'kw')
      const { fg, stateRoot } = await upForeground(t, host, natSpec('kws', 231))
      const [pid] = processesIn(host.path, 'dnsmasq')
      process.kill(pid ?? 0, 'SIGKILL')
      await sleep(delay)
      fg.proc.kill('SIGTERM')
      await endedDown(t, fg, host, 'kws', stateRoot)
      t.notMatch(fg.err(), /busy/, 'no "busy" from its own lock')
    })
  }
})

t.test('SIGTERM while another writer holds NAME.lock: waits for it, then takes the network down', async (t) => {
  const host = await makeNs(t, 'kw')
  const { fg, stateRoot } = await upForeground(t, host, natSpec('kwl', 232))
  const lockFile = lockFileOf(stateRoot, 'kwl')
  t.ok(lockFile, 'the lock file exists')
  const held = await holdLock(t, lockFile ?? '')
  fg.proc.kill('SIGTERM')
  await waitFor(() => /waiting for/.test(fg.err()) || fg.ended(), 10_000, 10)
  t.notOk(fg.ended(), 'still running while the lock is held elsewhere')
  t.match(fg.err(), /waiting for .*lock/, 'says what it waits for')
  t.ok(await link(host, 'kvbr-kwl'), 'the network is still up meanwhile')
  t.equal(processesIn(host.path, 'dnsmasq').length, 1, 'and supervised')
  await held.release()
  await endedDown(t, fg, host, 'kwl', stateRoot)
})

t.test('a second (and third) signal during the teardown does not leave a half-torn network', async (t) => {
  for (const gap of [0, 5, 15, 40]) {
    await t.test(`second signal ${gap} ms after the first`, async (t) => {
      const host = await makeNs(t, 'kw')
      const { fg, stateRoot } = await upForeground(t, host, natSpec('kwd', 233, ['kwd-p0', 'kwd-p1', 'kwd-p2']))
      fg.proc.kill('SIGTERM')
      if (gap > 0) await sleep(gap)
      fg.proc.kill('SIGTERM')
      await sleep(3)
      fg.proc.kill('SIGINT')
      await endedDown(t, fg, host, 'kwd', stateRoot)
    })
  }
})

t.test('a signal after the network is down, before the process has ended, does not kill it', async (t) => {
  // Network.down settles once the kernel has unlisted the links; the delete's ack (after the kernel's RCU
  // barrier) is still awaited by a pool thread, which keeps the process alive some ms after it printed
  // "down". A signal then must not fall back to its default action (death by signal, not exit 0).
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    await t.test(sig, async (t) => {
      const host = await makeNs(t, 'kw')
      const { fg, stateRoot } = await upForeground(t, host, natSpec('kwe', 235, ['kwe-p0', 'kwe-p1', 'kwe-p2']))
      fg.proc.kill('SIGTERM')
      await waitFor(() => fg.ended() || /kwe: down \(SIGTERM\)/.test(fg.out()), 60_000, 1)
      if (!fg.ended()) fg.proc.kill(sig)
      await endedDown(t, fg, host, 'kwe', stateRoot)
    })
  }
})

t.test('SIGHUP reloads the spec file and converges; the process keeps supervising', async (t) => {
  const host = await makeNs(t, 'kw')
  const { fg, stateRoot, file } = await upForeground(t, host, natSpec('kwh', 234))
  writeFileSync(file, JSON.stringify(natSpec('kwh', 234, ['kwh-p0', 'kwh-p1'])))
  fg.proc.kill('SIGHUP')
  await waitFor(() => link(host, 'kwh-p1'), 10_000, 20)
  t.pass('the port added to the file is there')
  await waitFor(() => /kwh: reloaded/.test(fg.out()), 10_000, 10)
  t.notOk(fg.ended(), 'still running')
  // A file that no longer validates: refused with a message, the network stays as it was.
  writeFileSync(file, '{"name": "kwh", "mode": "nat", "ipv4": {"address": "not an address"}}')
  fg.proc.kill('SIGHUP')
  await waitFor(() => /kwh: reload failed/.test(fg.err()), 10_000, 10)
  t.notOk(fg.ended(), 'a bad file does not end it')
  t.ok(await link(host, 'kwh-p1'), 'and the network is unchanged')
  fg.proc.kill('SIGTERM')
  await endedDown(t, fg, host, 'kwh', stateRoot)
})

t.test('dnsmasq SIGKILLed during the first start: restarted, or up fails cleanly', async (t) => {
  for (let round = 0; round < 3; round++) {
    await t.test(`round ${round}`, async (t) => {
      const host = await makeNs(t, 'kw')
      const stateRoot = `/run/kvmnet-test/${host.name}`
      const fg = startForeground(t, specFile(natSpec('kwf', 235)), host.name, stateRoot)
      // Kill the first dnsmasq the moment it exists (before or while it binds its sockets).
      const first = await waitFor(() => processesIn(host.path, 'dnsmasq')[0], 60_000, 1)
      process.kill(first, 'SIGKILL')
      await waitFor(() => fg.ended() || /kwf: up in/.test(fg.out()), 60_000, 10)
      if (fg.ended()) {
        const r = await fg.end()
        t.not(r.exitCode, 0, 'up failed')
        t.match(fg.err(), /dnsmasq/, `with an error naming dnsmasq: ${fg.err().trim()}`)
        await assertNothingLeft(t, host, 'kwf', stateRoot)
        return
      }
      const again = await waitFor(() => processesIn(host.path, 'dnsmasq').find((p) => p !== first), 10_000, 10)
      t.ok(again, `up succeeded and a dnsmasq runs (pid ${again})`)
      fg.proc.kill('SIGTERM')
      await endedDown(t, fg, host, 'kwf', stateRoot)
    })
  }
})
