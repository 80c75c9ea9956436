/**
 * The dnsmasq supervisor against the real dnsmasq, real kernel and busybox udhcpc: leases (dynamic and
 * reserved), DNS records and guest names, listening only on the bridge, SIGHUP reloads, restarts after a
 * kill that keep the leases, and a stop that leaves nothing.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { Dnsmasq, type Lease, type RestartInfo } from '../../src/dnsmasq/index.js'
import { waitFor } from '../helpers/ns.js'
import { processesIn } from '../helpers/leftovers.js'
import { bridgeHost, dig, dnsmasqSockets, guest, udhcpc } from '../unit/fixtures/dnsmasq/lab.js'

const RESERVED_MAC = '52:54:00:aa:00:01'
const LATE_MAC = '52:54:00:aa:00:02'

t.test('DHCP, DNS, reload, restart and stop on a bridge', async (t) => {
  const host = await bridgeHost(t)
  const spec = host.spec({
    dhcp: {
      range: ['192.168.100.100', '192.168.100.150'],
      leaseTime: 600,
      hosts: [{ mac: RESERVED_MAC, ip: '192.168.100.20', name: 'vm1' }],
      mtu: 1400,
    },
  })
  const d = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, spec)
  t.teardown(() => d.stop())
  const added: Lease[] = []
  d.on('lease-added', (l) => added.push(l))

  const ready = await d.start()
  t.ok(ready.pid > 0, 'start() resolved with the pid once the sockets were bound')
  t.same(processesIn(host.ns.path, 'dnsmasq'), [ready.pid], 'that pid is the one dnsmasq in the namespace')
  t.ok(existsSync(d.paths.conf) && existsSync(d.paths.pidFile), 'config and pid file in the state dir')

  await t.test('listens on the bridge only', async (t) => {
    const s = await dnsmasqSockets(host.ns)
    t.same(s.udp, ['0.0.0.0%br0:67', '192.168.100.1:53'], 'UDP: DHCP bound to br0, DNS on the bridge address')
    t.same(s.tcp, ['192.168.100.1:53'], 'TCP: DNS on the bridge address only')
    t.same(await dig(host.ns, '127.0.0.1', 'www.lab.test'), [], 'nothing answers on lo')
  })

  const dyn = await guest(t, host.ns)
  const resv = await guest(t, host.ns, RESERVED_MAC)
  await t.test('a dynamic lease from the range, with router, DNS and domain', async (t) => {
    const l = await udhcpc(dyn, { hostname: 'dyn1' })
    t.ok(l, 'udhcpc got a lease')
    const last = Number(l!.ip.split('.')[3])
    t.ok(l!.ip.startsWith('192.168.100.') && last >= 100 && last <= 150, `${l!.ip} is in the range`)
    t.equal(l!.mask, 24)
    t.equal(l!.router, '192.168.100.1')
    t.equal(l!.dns, '192.168.100.1')
    t.equal(l!.domain, 'lab.test')
    const addr = await dyn.run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    t.match(addr, `${l!.ip}/24`, 'the script applied it to eth0')
  })
  await t.test('a reserved MAC gets its address and name', async (t) => {
    const l = await udhcpc(resv)
    t.equal(l?.ip, '192.168.100.20')
    t.equal(l?.hostname, 'vm1')
  })

  await t.test('leases() and lease events', async (t) => {
    const leases = await waitFor(async () => {
      const ls = await d.leases()
      return ls.length === 2 ? ls : undefined
    })
    const byMac = new Map(leases.map((l) => [l.mac, l]))
    t.equal(byMac.get(RESERVED_MAC)?.ip, '192.168.100.20')
    t.equal(byMac.get(RESERVED_MAC)?.hostname, 'vm1')
    t.ok(leases.every((l) => l.expiresAt instanceof Date && l.expiresAt.getTime() > Date.now()), 'expiry dates in the future')
    await waitFor(() => added.length >= 2)
    t.same(added.map((l) => l.ip).sort(), leases.map((l) => l.ip).sort(), "a 'lease-added' event for each")
  })

  await t.test('DNS: host records and guest names in the domain', async (t) => {
    t.same(await dig(host.ns, '192.168.100.1', 'www.lab.test'), ['192.168.100.7'], 'addn-hosts record, expanded into the domain')
    t.same(await dig(host.ns, '192.168.100.1', 'vm1.lab.test'), ['192.168.100.20'], 'reserved guest by its name')
    const dynIp = (await d.leases()).find((l) => l.hostname === 'dyn1')?.ip
    t.ok(dynIp, 'the dynamic guest registered its hostname')
    t.same(await dig(dyn, '192.168.100.1', 'dyn1.lab.test'), [dynIp], 'dynamic guest by the name it sent, asked from a guest')
  })

  await t.test('SIGHUP reload makes a new reservation and record effective without a restart', async (t) => {
    const pid = d.pid
    const late = await guest(t, host.ns, LATE_MAC)
    const next = {
      ...spec,
      dhcp: { ...spec.dhcp!, hosts: [...spec.dhcp!.hosts!, { mac: LATE_MAC, ip: '192.168.100.30', name: 'late' }] },
      dns: { domain: 'lab.test', hosts: [{ name: 'www', ip: '192.168.100.7' }, { name: 'db', ip: '192.168.100.8' }] },
    }
    const reloads: string[] = []
    d.on('reload', (r) => reloads.push(r.mode))
    t.equal(await d.reload(next), true, 'reload() reports a change')
    t.equal(d.pid, pid, 'same process')
    t.same(reloads, ['sighup'])
    t.equal((await udhcpc(late))?.ip, '192.168.100.30', 'the new reservation is served')
    t.same(await dig(host.ns, '192.168.100.1', 'db.lab.test'), ['192.168.100.8'], 'the new record resolves')
    t.equal(await d.reload(next), false, 'the same spec again changes nothing')
    Object.assign(spec, next)
  })

  await t.test('SIGKILL: restarted at once on the same leases', async (t) => {
    const before = (await d.leases()).map((l) => `${l.mac} ${l.ip}`).sort()
    const oldPid = d.pid!
    const restarted = new Promise<RestartInfo>((r) => d.once('restart', r))
    const t0 = performance.now()
    process.kill(oldPid, 'SIGKILL')
    const info = await restarted
    t.comment(`running again ${(performance.now() - t0).toFixed(0)} ms after SIGKILL`)
    t.equal(info.attempt, 0, 'first restart in a row')
    t.equal(info.delayMs, 0, 'scheduled without delay')
    t.equal(info.previousPid, oldPid)
    t.equal(info.signal, 'SIGKILL')
    t.not(d.pid, oldPid, 'a new process')
    t.same(processesIn(host.ns.path, 'dnsmasq'), [d.pid], 'exactly one dnsmasq in the namespace')
    t.same((await d.leases()).map((l) => `${l.mac} ${l.ip}`).sort(), before, 'the same leases')
    t.same(await dig(host.ns, '192.168.100.1', 'vm1.lab.test'), ['192.168.100.20'], 'serving again')
    t.equal((await udhcpc(resv))?.ip, '192.168.100.20', 'a renewing guest keeps its address')
  })

  await t.test('a changed range restarts, keeping leases', async (t) => {
    const before = (await d.leases()).map((l) => `${l.mac} ${l.ip}`).sort()
    const oldPid = d.pid
    const modes: string[] = []
    d.on('reload', (r) => modes.push(r.mode))
    await d.reload({ ...spec, dhcp: { ...spec.dhcp!, range: ['192.168.100.100', '192.168.100.200'] } })
    t.same(modes, ['restart'])
    t.not(d.pid, oldPid, 'a new process')
    t.same((await d.leases()).map((l) => `${l.mac} ${l.ip}`).sort(), before, 'the same leases')
  })

  await t.test('stop leaves no process, file or socket', async (t) => {
    await d.stop()
    t.same(processesIn(host.ns.path, 'dnsmasq'), [], 'no dnsmasq in the namespace')
    t.notOk(existsSync(host.stateDir), 'state dir removed')
    t.same(await dnsmasqSockets(host.ns), { udp: [], tcp: [] }, 'no socket')
    t.equal(d.pid, undefined)
  })
})

t.test('DHCP only (dns: false): no DNS socket, no DNS option', async (t) => {
  const host = await bridgeHost(t)
  const d = new Dnsmasq({ path: host.ns.path, name: host.ns.name }, host.spec({ dns: false }))
  t.teardown(() => d.stop())
  await d.start()
  t.same(await dnsmasqSockets(host.ns), { udp: ['0.0.0.0%br0:67'], tcp: [] }, 'only the DHCP socket')
  const l = await udhcpc(await guest(t, host.ns))
  t.ok(l?.ip.startsWith('192.168.100.1'), 'a lease')
  t.equal(l?.dns, '', 'no DNS server handed out')
  await d.stop()
})
