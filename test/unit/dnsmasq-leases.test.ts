/**
 * The lease file parser, and the watcher's events driven by a real file in a temp dir (real inotify,
 * real timers; no dnsmasq needed, so lease expiry can be tested without waiting out dnsmasq's 120 s minimum).
 */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LeaseWatcher, parseLeases, type Lease } from '../../src/dnsmasq/index.js'
import { LEASE_LINES } from '../helpers/lease-lines.js'

t.test('parseLeases', async (t) => {
  const text = [
    ...LEASE_LINES,
    'garbage',
    '',
  ].join('\n')
  t.same(parseLeases(text), [
    { expiresAt: new Date(1767225600 * 1000), mac: '52:54:00:aa:00:01', ip: '192.168.100.20', family: 4, hostname: 'vm1', clientId: '01:52:54:00:aa:00:01' },
    { expiresAt: null, mac: '52:54:00:aa:00:02', ip: '192.168.100.21', family: 4 },
    // DHCPv6: the MAC comes from a DUID-LL or DUID-LLT of an Ethernet client, else none.
    { expiresAt: new Date(1767225600 * 1000), mac: '', ip: 'fd00::20', family: 6, iaid: 12345678, duid: '00:01:00:01', hostname: 'vm1' },
    { expiresAt: new Date(1767225600 * 1000), mac: '52:54:00:aa:00:03', ip: 'fd00::21', family: 6, iaid: 1, duid: '00:03:00:01:52:54:00:aa:00:03', hostname: 'vm2' },
    { expiresAt: null, mac: '52:54:00:aa:00:04', ip: 'fd00::22', family: 6, iaid: 7, duid: '00:01:00:01:2c:00:00:00:52:54:00:aa:00:04' },
  ])
})

t.test('LeaseWatcher: added, changed, removed, expired by time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvd-leases-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'leases')
  const now = Math.floor(Date.now() / 1000)
  writeFileSync(file, `${now + 3600} 52:54:00:00:00:01 192.168.100.20 old *\n`)
  const w = new LeaseWatcher(file)
  // The watcher never keeps a process alive on its own (a CLI must be able to exit): this test must.
  const keepAlive = setInterval(() => undefined, 1000)
  t.teardown(() => {
    w.stop()
    clearInterval(keepAlive)
  })
  const events: string[] = []
  const next = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => events.length >= n && resolve()
      check()
      for (const e of ['lease-added', 'lease-changed', 'lease-expired'] as const) w.on(e, check)
    })
  w.on('lease-added', (l: Lease) => events.push(`added ${l.ip}`))
  w.on('lease-changed', (l: Lease, old: Lease) => events.push(`changed ${l.ip} ${old.hostname}->${l.hostname}`))
  w.on('lease-expired', (l: Lease, why) => events.push(`expired ${l.ip} ${why}`))
  await w.start()
  t.same(events, [], 'the baseline emits nothing')

  let seen = next(1)
  writeFileSync(file, `${now + 3600} 52:54:00:00:00:01 192.168.100.20 old *\n${now + 3600} 52:54:00:00:00:02 192.168.100.21 new *\n`)
  await seen
  t.same(events, ['added 192.168.100.21'])

  seen = next(2)
  writeFileSync(file, `${now + 3600} 52:54:00:00:00:01 192.168.100.20 renamed *\n${now + 3600} 52:54:00:00:00:02 192.168.100.21 new *\n`)
  await seen
  t.equal(events[1], 'changed 192.168.100.20 old->renamed')

  seen = next(3)
  // .21 released (gone from the file); .22 granted with a lease that runs out in about a second.
  writeFileSync(file, `${now + 3600} 52:54:00:00:00:01 192.168.100.20 renamed *\n${now + 2} 52:54:00:00:00:03 192.168.100.22 short *\n`)
  await seen
  await next(4)
  t.same(events.slice(2, 4).sort(), ['added 192.168.100.22', 'expired 192.168.100.21 removed'])
  await next(5)
  t.equal(events[4], 'expired 192.168.100.22 time', 'expired by time with no change to the file')
})
