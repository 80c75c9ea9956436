/**
 * `addresses()` from real guest stacks behind kvmnet taps (socat-relayed namespaces, no QEMU): a static
 * address and a SLAAC address learned from the guest's own packets, a DHCP lease listed as a lease, the
 * `address` event, a changed address replacing the old one once it ages out, nothing left after `down`.
 */
import t from 'tap'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { createNetwork, gc, validateSpec, type PortAddress } from '../../src/index.js'
import { makeNs, waitFor } from '../helpers/ns.js'
import { tapGuest } from '../helpers/tap-guest.js'
import { dhcp, ping } from '../helpers/guest.js'
import { assertNothingLeft } from '../helpers/leftovers.js'

const has = (list: PortAddress[], port: string, address: string): PortAddress | undefined => list.find((a) => a.port === port && a.address === address)

t.test('nat: static, SLAAC and leased addresses of guests on taps; the address event; a changed address ages out', async (t) => {
  const host = await makeNs(t, 'ka')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(
    validateSpec({
      name: 'kaddr',
      mode: 'nat',
      ipv4: { address: '10.231.0.1/24', dhcp: { range: ['10.231.0.100', '10.231.0.150'] } },
      ipv6: { address: 'fd00:231::1/64' },
      ports: [
        { name: 'ka-p0', mac: '52:54:00:4c:00:10', vnetHdr: false },
        { name: 'ka-p1', mac: '52:54:00:4c:00:11', vnetHdr: false },
      ],
    }),
    { netns: host.name, stateRoot },
  )
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  const events: PortAddress[] = []
  const onAddress = (a: PortAddress): void => void events.push(a)
  net.on('address', onAddress)
  t.teardown(() => net.off('address', onAddress))
  // A first poll records what is there before the guests send anything.
  await new Promise((r) => setTimeout(r, 1500))

  const g0 = await tapGuest(t, host, 'ka-p0', '52:54:00:4c:00:10', '10.231.0.7/24', 'ka')
  t.ok(await ping(g0, '10.231.0.1'), 'static guest reaches the host')
  const seen = await waitFor(async () => has(await net.addresses(), 'ka-p0', '10.231.0.7'), 10_000, 200)
  t.equal(seen.source, 'neighbour', 'a static address is learned from traffic')
  t.equal(seen.mac, '52:54:00:4c:00:10', "with the guest's MAC")
  t.equal(seen.family, 4)
  t.ok(seen.lastSeen && Date.now() - seen.lastSeen.getTime() < 30_000, 'seen recently')

  // SLAAC from kvmnet's router advertisements: the guest's global address is learned once it sends from it.
  const v6 = await waitFor(async () => {
    const a = JSON.parse(await g0.run('ip', ['-j', '-6', 'addr', 'show', 'dev', 'eth0', '-tentative', 'scope', 'global'])) as { addr_info?: { local: string }[] }[]
    return a.flatMap((l) => l.addr_info ?? []).map((x) => x.local).find((x) => x.startsWith('fd00:231:'))
  }, 20_000, 200)
  t.ok(await ping(g0, 'fd00:231::1'), 'guest reaches the host over IPv6')
  const slaac = await waitFor(async () => has(await net.addresses(), 'ka-p0', v6), 10_000, 200)
  t.equal(slaac.family, 6, `SLAAC address ${v6} listed`)
  t.equal(slaac.source, 'neighbour')
  t.ok((await net.addresses()).some((a) => a.port === 'ka-p0' && a.address.startsWith('fe80:')), 'and its link-local address')

  // A DHCP guest: its lease, with source lease.
  const g1 = await tapGuest(t, host, 'ka-p1', '52:54:00:4c:00:11', '169.254.9.9/16', 'ka')
  const lease = await dhcp(g1)
  t.ok(lease, 'second guest leased an address')
  const leased = await waitFor(async () => has(await net.addresses(), 'ka-p1', lease!.ip), 10_000, 200)
  t.equal(leased.source, 'lease', 'a leased address has source lease')
  t.equal(leased.mac, '52:54:00:4c:00:11')

  await waitFor(() => events.some((e) => e.port === 'ka-p0' && e.address === '10.231.0.7') && events.some((e) => e.address === lease!.ip), 10_000, 100)
  t.pass('address events for the static address and the lease')

  // The guest moves to another address: the new one is listed, and the old one ages out (60 s timeout).
  await g0.ip('addr del 10.231.0.7/24 dev eth0\naddr add 10.231.0.8/24 dev eth0')
  t.ok(await ping(g0, '10.231.0.1'), 'guest reaches the host from its new address')
  await waitFor(async () => has(await net.addresses(), 'ka-p0', '10.231.0.8'), 10_000, 200)
  t.pass('new address listed')
  await waitFor(async () => {
    await ping(g0, '10.231.0.1')
    return !has(await net.addresses(), 'ka-p0', '10.231.0.7')
  }, 90_000, 2000)
  t.pass('old address gone within the learning timeout')
  t.ok(has(await net.addresses(), 'ka-p0', '10.231.0.8'), 'the new one, still in use, stays')

  // The CLI prints the same list.
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const cli = (args: string[]) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'addresses', 'kaddr', '--netns', host.name, '--state-root', stateRoot, ...args], { cwd: root, timeout: 60_000 })
  const json = JSON.parse((await cli(['--json'])).stdout) as { port?: string; address: string; source: string; lastSeen?: string }[]
  t.ok(json.some((a) => a.port === 'ka-p0' && a.address === '10.231.0.8' && a.source === 'neighbour' && typeof a.lastSeen === 'string'), 'kvmnet addresses --json lists the static address')
  t.ok(json.some((a) => a.port === 'ka-p1' && a.address === lease!.ip && a.source === 'lease'), 'and the lease')
  t.match((await cli([])).stdout, /ka-p0\s+52:54:00:4c:00:10\s+10\.231\.0\.8\s+neighbour\s+\d+s ago/, 'the table form')

  await net.down()
  await assertNothingLeft(t, host, 'kaddr')
})

t.test('a failed up removes the learning table; a port added later joins it without forgetting what was learned', async (t) => {
  const host = await makeNs(t, 'ka')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }))
  const spec = validateSpec({ name: 'kaport', mode: 'isolated', ipv4: { address: '10.233.0.1/24' }, ports: [{ name: 'ka-q0', mac: '52:54:00:4c:04:10', vnetHdr: false }] })
  const steps: string[] = []
  const failing = createNetwork(spec, {
    netns: host.name,
    stateRoot,
    onStep: (e) => void steps.push(`${e.step}:${e.phase}`),
    faultInjector: (step) => {
      if (step === 'state') throw new Error('injected after the learning step')
    },
  })
  await t.rejects(failing.up(), /injected/)
  t.ok(steps.includes('learn:apply'), `the learning table was made before the failure (${steps.filter((x) => x.startsWith('learn')).join(', ')})`)
  t.notMatch(await host.run('nft', ['list', 'tables']), /kvmnet/, 'no table left by the rolled-back up')

  const net = createNetwork(spec, { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const g0 = await tapGuest(t, host, 'ka-q0', '52:54:00:4c:04:10', '10.233.0.7/24', 'ka')
  t.ok(await ping(g0, '10.233.0.1'), 'first guest reaches the host')
  await waitFor(async () => has(await net.addresses(), 'ka-q0', '10.233.0.7'), 10_000, 200)
  await net.addPort({ name: 'ka-q1', mac: '52:54:00:4c:04:11', vnetHdr: false })
  t.ok(has(await net.addresses(), 'ka-q0', '10.233.0.7'), 'adding a port forgot nothing')
  const g1 = await tapGuest(t, host, 'ka-q1', '52:54:00:4c:04:11', '10.233.0.8/24', 'ka')
  t.ok(await ping(g1, '10.233.0.1'), 'second guest reaches the host')
  const a = await waitFor(async () => has(await net.addresses(), 'ka-q1', '10.233.0.8'), 10_000, 200)
  t.equal(a.source, 'neighbour', "the new port's guest is learned")
  await net.down()
  await assertNothingLeft(t, host, 'kaport')
})

t.test('gc removes the learning table of a macvtap network whose state is lost (it has no inet table to be found by)', async (t) => {
  const host = await makeNs(t, 'ka')
  const lan = await makeNs(t, 'ka')
  await host.ip(`link add eth0 type veth peer name eth0 netns ${lan.name}\nlink set eth0 up`)
  await lan.ip('link set eth0 up')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }))
  const net = createNetwork(validateSpec({ name: 'kagc', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'ka-m0' }] }), { netns: host.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  t.match(await host.run('nft', ['list', 'tables']), /table netdev kvmnet-addr_kagc/, 'a netdev learning table')
  // The state is gone (a crash that lost it, a wiped /run): only the tagged links say whose the table was.
  await rm(stateRoot, { recursive: true, force: true })
  const r = await gc({ netns: host.name, stateRoot })
  t.ok(r.tables.includes('kvmnet-addr_kagc'), `gc names the table it removed (${r.tables.join(', ')})`)
  t.same(r.errors, [])
  t.notMatch(await host.run('nft', ['list', 'tables']), /kvmnet/, 'no kvmnet table left')
  await assertNothingLeft(t, host, 'kagc')
})
