/**
 * A detached dnsmasq's log is bounded (src/dnsmasq/log-rotate.ts): `kvmnet up` leaves dnsmasq writing its
 * stderr to dnsmasq.log under the state root (a tmpfs) for as long as the network lives. A log grown over
 * its limit is rotated the next time kvmnet adopts that dnsmasq (here, a reservation added by another
 * handle): its last lines move to dnsmasq.log.1, dnsmasq goes on writing at the start of the emptied log,
 * and `down` removes both.
 */
import t from 'tap'
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createNetwork, openNetwork, validateSpec } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'
import { processesIn } from '../helpers/leftovers.js'

t.test("a detached dnsmasq's log over its limit is rotated when kvmnet next adopts it", async (t) => {
  const host = await makeNs(t, 'kvj')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }))
  const spec = validateSpec({ name: 'kvjlog', mode: 'nat', ipv4: { address: '10.235.0.1/24', dhcp: { range: ['10.235.0.100', '10.235.0.150'] } } })
  const net = createNetwork(spec, { netns: host.name, stateRoot, dnsmasq: 'detached' })
  await net.up()
  net.close()
  const [pid] = processesIn(host.path, 'dnsmasq')
  t.ok(pid, 'the detached dnsmasq runs')
  const dir = join(net.stateDir, 'dnsmasq')
  const log = join(dir, 'dnsmasq.log')
  t.ok(existsSync(log), 'it writes dnsmasq.log')
  // Days of DHCP exchanges and reloads, as dnsmasq would have written them.
  const old = Array.from({ length: 20000 }, (_, i) => `dnsmasq-dhcp[${pid}]: DHCPACK(kvjlog) 10.235.0.${100 + (i % 50)} 52:54:00:00:00:01 g${i}\n`).join('')
  appendFileSync(log, old)
  const before = readFileSync(log, 'utf8')
  t.ok(before.length > 1024 * 1024, 'the log is over 1 MiB')

  const other = await openNetwork('kvjlog', { netns: host.name, stateRoot, dnsmasq: 'detached' })
  t.teardown(() => other.down().catch(() => undefined))
  await other.addReservation({ mac: '52:54:00:00:00:09', ip: '10.235.0.9' })
  t.same(processesIn(host.path, 'dnsmasq'), [pid], 'the same dnsmasq, reloaded, not restarted')

  const now = readFileSync(log, 'utf8')
  t.ok(now.length < 64 * 1024, `the log was emptied (${now.length} bytes now)`)
  t.notMatch(now, /\0/, 'no hole: dnsmasq appends at the new start')
  t.match(now, /read .*dhcp-hosts/, "the reload's lines are in the new log")
  const kept = readFileSync(join(dir, 'dnsmasq.log.1'), 'utf8')
  t.ok(kept.length > 0 && kept.length <= 1024 * 1024, 'dnsmasq.log.1 keeps at most 1 MiB')
  t.ok(before.endsWith(kept), 'of the last lines')

  await other.down()
  t.notOk(existsSync(log) || existsSync(join(dir, 'dnsmasq.log.1')), 'down removes both')
  t.same(processesIn(host.path, 'dnsmasq'), [], 'and stops dnsmasq')
})
