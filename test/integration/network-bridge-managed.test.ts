/**
 * A `bridge` network on a NIC that a DHCP client manages (busybox udhcpc, running on the NIC as on a real
 * host). Without adoptManagedInterface, up refuses it with a ManagedInterfaceError naming the client and
 * touches nothing; with it, the client is handed over: the address and its renewals live on the bridge
 * (which has the NIC's MAC, so the LAN's server sees the same client), the LAN still reaches the host, and
 * down gives the NIC and its client back.
 */
import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNetwork, doctor, ManagedInterfaceError, validateSpec } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { ping, udhcpcScript } from '../helpers/guest.js'
import { addresses } from '../helpers/ip.js'
import { assertNothingLeft, processesIn } from '../helpers/leftovers.js'
import { readFileSync } from 'node:fs'

/** A LAN namespace (bridge lan0, 198.51.100.1/24, dnsmasq with leases) and a host whose eth0 is on it. */
async function lanWithDhcp(t: Test): Promise<{ host: TestNs; lan: TestNs; leases: string }> {
  const host = await makeNs(t, 'kvnm')
  const lan = await makeNs(t, 'kvnm')
  await lan.ip('link add lan0 type bridge\naddr add 198.51.100.1/24 dev lan0\nlink set lan0 up')
  await host.ip(`link add eth0 type veth peer name lan-host netns ${lan.name}\nlink set eth0 up`)
  await lan.ip('link set lan-host master lan0 up')
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-nm-'))
  const leases = join(dir, 'leases')
  const d = lan.spawn('dnsmasq', [
    '--keep-in-foreground', '--no-resolv', '--no-hosts', '--port=0', '--bind-interfaces', '--interface=lan0', '--except-interface=lo',
    '--dhcp-range=198.51.100.100,198.51.100.150,1h', '--no-ping', '--dhcp-authoritative', '--dhcp-option=3,198.51.100.1',
    `--dhcp-leasefile=${leases}`, '--pid-file=',
  ])
  t.teardown(async () => {
    d.kill('SIGTERM')
    await d.catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })
  await waitFor(async () => (await lan.run('ss', ['-Hlnu', 'sport = :67'])).trim() !== '')
  return { host, lan, leases }
}

/** Every udhcpc in the host namespace, with its interface. */
function clients(host: TestNs): { pid: number; iface: string | undefined }[] {
  return processesIn(host.path, 'busybox').flatMap((pid) => {
    const argv = (() => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      } catch {
        return []
      }
    })()
    if (argv[1] !== 'udhcpc') return []
    return [{ pid, iface: argv[argv.indexOf('-i') + 1] }]
  })
}

function killClients(host: TestNs): void {
  for (const c of clients(host)) {
    try {
      process.kill(c.pid, 'SIGKILL')
    } catch {}
  }
}

const v4 = async (ns: TestNs, dev: string) => (await addresses(ns, dev)).filter((a) => a.includes('.'))

/** The lease's expiry (dnsmasq's lease file: "EXPIRY MAC IP NAME CLIENT-ID"). */
async function leaseExpiry(file: string): Promise<number> {
  const line = (await readFile(file, 'utf8').catch(() => '')).split('\n').find((l) => l.includes('198.51.100.'))
  return Number(line?.split(' ')[0] ?? 0)
}

t.test('bridge on a NIC managed by udhcpc: refused without adoptManagedInterface, handed over and given back with it', async (t) => {
  const { host, lan, leases } = await lanWithDhcp(t)
  t.teardown(() => killClients(host))
  const stateRoot = `/run/kvmnet-test/${host.name}`
  // The host's DHCP client, long-running on eth0 as on a real host.
  host.spawn('busybox', ['udhcpc', '-i', 'eth0', '-f', '-t', '10', '-T', '1', '-s', udhcpcScript()])
  await waitFor(async () => (await v4(host, 'eth0')).length > 0, 15_000)
  const [addr] = await v4(host, 'eth0')
  t.match(addr, /^198\.51\.100\.1\d\d\/24$/, `eth0 leased ${addr}`)
  const original = clients(host)
  t.equal(original.length, 1)

  const spec = { name: 'tnm', mode: 'bridge', interface: 'eth0', ports: [{ name: 'nmvm0' }] }
  const refused = createNetwork(validateSpec(spec), { netns: host.name, stateRoot })
  const err = await refused.up().then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof ManagedInterfaceError, 'a ManagedInterfaceError')
  t.match(err, { field: 'interface', interface: 'eth0', managers: [new RegExp(`^udhcpc \\(pid ${original[0]?.pid}\\)$`)] })
  t.match((err as Error).message, /adoptManagedInterface/)
  t.same(await v4(host, 'eth0'), [addr], 'eth0 keeps its address')
  t.same(clients(host), original, 'the client still runs on eth0')
  await assertNothingLeft(t, host, 'tnm', stateRoot)

  const net = createNetwork(validateSpec({ ...spec, adoptManagedInterface: true }), { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const br = net.bridge ?? 'kvbr-tnm'
  t.same(await v4(host, br), [addr], 'the address is on the bridge')
  t.same(await v4(host, 'eth0'), [], 'and no longer on the NIC')
  const onBridge = await waitFor(() => clients(host).find((c) => c.iface === br))
  t.notOk(clients(host).some((c) => c.iface === 'eth0'), 'no client left on eth0')
  t.ok(await ping(lan, addr?.split('/')[0] ?? ''), 'the LAN reaches the host')

  // A renewal (SIGUSR1 makes udhcpc renew now) goes from the bridge and extends the same lease.
  const before = await leaseExpiry(leases)
  await new Promise((r) => setTimeout(r, 1100))
  process.kill(onBridge.pid, 'SIGUSR1')
  await waitFor(async () => (await leaseExpiry(leases)) > before, 10_000)
  t.pass('the lease was renewed from the bridge')
  await waitFor(async () => (await v4(host, br)).length === 1, 5000)
  t.same(await v4(host, br), [addr], 'same address after the renewal, on the bridge')
  t.same(await v4(host, 'eth0'), [], 'nothing on the enslaved NIC')
  t.ok(await ping(lan, addr?.split('/')[0] ?? ''), 'the LAN still reaches the host')

  // doctor: the bridge's client is kvmnet's; a client started on the enslaved NIC again is named.
  const clean = await doctor({ netns: host.name, stateRoot, network: 'tnm' })
  t.same(clean.findings.filter((f) => f.code === 'nic-managed'), [], 'no finding while kvmnet runs the client')
  const rogue = host.spawn('busybox', ['udhcpc', '-i', 'eth0', '-f', '-n', '-t', '100', '-T', '1', '-s', '/bin/true'])
  const rogueFinding = await waitFor(async () => (await doctor({ netns: host.name, stateRoot, network: 'tnm' })).findings.find((f) => f.code === 'nic-managed'))
  t.match(rogueFinding, { severity: 'error', object: new RegExp(`^udhcpc \\(pid ${rogue.pid}\\) on eth0$`) }, 'doctor names the client on the enslaved NIC')
  rogue.kill('SIGKILL')
  await rogue.catch(() => undefined)

  await net.down()
  t.same(await v4(host, 'eth0'), [addr], 'down: the address is back on eth0')
  const back = await waitFor(() => clients(host).find((c) => c.iface === 'eth0'))
  t.not(back.pid, original[0]?.pid, 'a client runs on eth0 again')
  t.notOk(clients(host).some((c) => c.iface === br), "the bridge's client is gone")
  t.ok(await ping(lan, addr?.split('/')[0] ?? ''), 'the LAN reaches the host through eth0')
  await assertNothingLeft(t, host, 'tnm', stateRoot)
})
