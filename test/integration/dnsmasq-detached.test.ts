/**
 * Detached mode across processes: a Node process starts dnsmasq detached and exits; this process adopts
 * it, reloads and stops it. A pid file pointing at anything but that dnsmasq is refused without a signal.
 * And the supervised counterpart: a supervised dnsmasq dies with its Node parent, even on SIGKILL.
 */
import t from 'tap'
import { execa } from 'execa'
import { existsSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Dnsmasq } from '../../src/dnsmasq/index.js'
import { DnsmasqError } from '../../src/errors.js'
import { waitFor } from '../helpers/ns.js'
import { processesIn } from '../helpers/leftovers.js'
import { bridgeHost, dig, guest, udhcpc } from '../unit/fixtures/dnsmasq/lab.js'

const CHILD = fileURLToPath(new URL('../unit/fixtures/dnsmasq/child.ts', import.meta.url))

/** Running (a zombie waiting for a reaper counts as dead: it holds no socket and serves nothing). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}

t.test('detached start, adopt from another process, reload, stop', async (t) => {
  const host = await bridgeHost(t)
  const spec = host.spec()
  const r = await execa('node', ['--import', 'tsx', CHILD, 'start-detached', JSON.stringify({ nsPath: host.ns.path, nsName: host.ns.name, spec })], { timeout: 60_000 })
  const pid = Number(/PID (\d+)/.exec(r.stdout)?.[1])
  t.teardown(() => {
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL')
  })
  t.equal(r.exitCode, 0, 'the starting process exited')
  t.same(processesIn(host.ns.path, 'dnsmasq'), [pid], 'its dnsmasq lives on')
  t.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+65534\s/m, "a detached dnsmasq dropped to 'nobody'")

  const d = await Dnsmasq.adopt({ path: host.ns.path, name: host.ns.name }, host.stateDir)
  t.equal(d.pid, pid, 'adopted the pid from the pid file')
  t.ok(d.running)
  const mac = '52:54:00:bb:00:01'
  const changed = await d.reload({ ...spec, dhcp: { ...spec.dhcp!, hosts: [{ mac, ip: '192.168.100.40', name: 'adopted' }] } })
  t.equal(changed, true)
  t.equal(d.pid, pid, 'reloaded with SIGHUP: same process (re-read as nobody)')
  t.equal((await udhcpc(await guest(t, host.ns, mac)))?.ip, '192.168.100.40', 'the reservation added through the adopted handle is served')
  t.same(await dig(host.ns, '192.168.100.1', 'adopted.lab.test'), ['192.168.100.40'])
  t.equal((await d.leases()).length, 1, 'leases() through the adopted handle')

  await d.stop()
  t.notOk(alive(pid), 'stopped')
  t.notOk(existsSync(host.stateDir), 'state dir removed')
})

t.test('a stale pid file is refused without signalling its process', async (t) => {
  const host = await bridgeHost(t)
  const sleeper = execa('sleep', ['600'], { reject: false })
  t.teardown(async () => {
    sleeper.kill('SIGKILL')
    await sleeper
  })
  mkdirSync(host.stateDir, { recursive: true })
  writeFileSync(`${host.stateDir}/dnsmasq.pid`, `${sleeper.pid}\n`)
  const err = await Dnsmasq.adopt({ path: host.ns.path, name: host.ns.name }, host.stateDir).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof DnsmasqError, 'DnsmasqError')
  t.match((err as DnsmasqError).detail, /is sleep, not dnsmasq/)

  // A handle that never started anything must not stop the pid file's process either.
  const d = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, host.spec())
  await d.stop()
  t.equal(sleeper.exitCode ?? null, null, 'the sleep was not signalled')
  t.ok(alive(sleeper.pid!), 'and still runs')

  // Nor a start over the stale pid file: it starts its own dnsmasq and overwrites the file.
  mkdirSync(host.stateDir, { recursive: true })
  writeFileSync(`${host.stateDir}/dnsmasq.pid`, `${sleeper.pid}\n`)
  const e = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, host.spec())
  t.teardown(() => e.stop())
  await e.start()
  t.not(e.pid, sleeper.pid)
  await e.stop()
  t.ok(alive(sleeper.pid!), 'the sleep survived start and stop')
})

t.test('a dnsmasq in another namespace with the same pid file path is refused', async (t) => {
  const a = await bridgeHost(t)
  const b = await bridgeHost(t)
  const d = new Dnsmasq({ path: a.ns.path, name: a.ns.name }, a.spec())
  t.teardown(() => d.stop())
  await d.start()
  await t.rejects(Dnsmasq.adopt({ path: b.ns.path, name: b.ns.name }, a.stateDir), DnsmasqError, 'namespace mismatch refused')
  t.ok(alive(d.pid!))
  await d.stop()
})

t.test('a supervised dnsmasq dies with its Node parent (SIGKILL)', async (t) => {
  const host = await bridgeHost(t)
  const child = execa('node', ['--import', 'tsx', CHILD, 'start-supervised', JSON.stringify({ nsPath: host.ns.path, nsName: host.ns.name, spec: host.spec() })], {
    reject: false,
    buffer: false,
  })
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await child
  })
  const pid = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /PID (\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', () => reject(new Error(`child exited before ready: ${out}`)))
  })
  t.same(processesIn(host.ns.path, 'dnsmasq'), [pid], 'dnsmasq runs')
  child.kill('SIGKILL')
  await child
  await waitFor(() => !alive(pid), 10_000)
  t.same(processesIn(host.ns.path, 'dnsmasq'), [], 'dnsmasq died with its parent')
})
