/**
 * Transactional apply, convergence, forwards from outside, bad specs and injected failures: whatever
 * happens, a network either is fully there or leaves nothing behind.
 */
import t, { type Test } from 'tap'
import { rm } from 'node:fs/promises'
import { fstatSync } from 'node:fs'
import { createNetwork, validateSpec, SpecError, RollbackError, type Network, type NetworkSpec } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { dhcp, guestOnBridge, hostWithInternet, ping, tcpGet, tcpServer } from '../helpers/guest.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { configuredLinks, link, linkNames } from '../helpers/ip.js'

function options(ns: TestNs, extra: Record<string, unknown> = {}) {
  return { netns: ns.name, stateRoot: `/run/kvmnet-test/${ns.name}`, ...extra }
}

function net(t: Test, ns: TestNs, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Network {
  const n = createNetwork(validateSpec(spec), options(ns, extra))
  t.teardown(async () => {
    await n.down().catch(() => undefined)
    await rm(`/run/kvmnet-test/${ns.name}`, { recursive: true, force: true })
  })
  return n
}

const natSpec = (extra: Record<string, unknown> = {}) => ({
  name: 'life',
  mode: 'nat',
  ipv4: {
    address: '10.220.0.1/24',
    dhcp: { range: ['10.220.0.100', '10.220.0.150'], hosts: [{ mac: '52:54:00:aa:00:01', ip: '10.220.0.10', name: 'web' }] },
  },
  dns: { domain: 'life.test' },
  forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.220.0.10', guestPort: 80 }],
  ports: [{ name: 'life-p0' }, { name: 'life-p1', queues: 2 }],
  ...extra,
})

t.test('forwards reach a guest from outside, from the host and from another guest', async (t) => {
  const { host, inet } = await hostWithInternet(t, '10.220.0.0/24')
  await inet.ip('route del 10.220.0.0/24')
  const n = net(t, host, natSpec())
  await n.up()
  const web = await guestOnBridge(t, host, n.bridge!, 'g-web', '52:54:00:aa:00:01')
  const lease = await dhcp(web)
  t.equal(lease?.ip, '10.220.0.10', 'reserved MAC got its reserved address')
  t.equal(lease?.hostname, 'web', 'and its host name')
  tcpServer(web, 80, 'web')
  await waitFor(async () => (await web.run('ss', ['-Hltn', 'sport = :80'])).trim() !== '')
  t.match(await tcpGet(inet, '203.0.113.1', 8080), /^web 203\.0\.113\.2/, 'outside -> host:8080 -> guest:80')
  t.match(await tcpGet(host, '203.0.113.1', 8080), /^web /, 'host -> its own address:8080')
  t.match(await tcpGet(host, '127.0.0.1', 8080), /^web /, 'host -> 127.0.0.1:8080')
  const other = await guestOnBridge(t, host, n.bridge!, 'g-other')
  await dhcp(other)
  t.match(await tcpGet(other, '10.220.0.1', 8080), /^web 10\.220\.0\.1$/, 'hairpin from another guest (masqueraded to the bridge address)')
  // Forwards can be added and removed on a running network.
  await n.addForward({ proto: 'tcp', hostPort: 8081, guest: '10.220.0.10', guestPort: 80 })
  t.match(await tcpGet(inet, '203.0.113.1', 8081), /^web /, 'added forward works')
  await n.removeForward({ proto: 'tcp', hostPort: 8080 })
  t.equal(await tcpGet(inet, '203.0.113.1', 8080), undefined, 'removed forward is gone')
  t.match(await tcpGet(inet, '203.0.113.1', 8081), /^web /, 'the other one stays')
})

t.test('re-applying the same spec changes nothing; a changed spec converges', async (t) => {
  const host = await makeNs(t, 'kvn')
  const n = net(t, host, natSpec())
  const first = await n.up()
  t.ok(first.steps.some((s) => s.outcome === 'created'), 'first apply creates')
  // Carrier and operational state settle on their own after the ports join the bridge; everything
  // configured must be identical.
  const before = await configuredLinks(host)
  const rulesBefore = await host.run('nft', ['list', 'ruleset'])
  const again = await n.up()
  const changed = again.steps.filter((s) => !['unchanged', 'done'].includes(s.outcome) && s.category !== 'state')
  t.same(changed, [], 'second apply of the same spec changes nothing')
  t.same(await configuredLinks(host), before, 'links identical')
  t.equal(await host.run('nft', ['list', 'ruleset']), rulesBefore, 'rules identical')
  // Converge: one port removed, one added, a reservation and a forward added.
  const spec2 = natSpec({
    ports: [{ name: 'life-p1', queues: 2 }, { name: 'life-p2' }],
    forwards: [
      { proto: 'tcp', hostPort: 8080, guest: '10.220.0.10', guestPort: 80 },
      { proto: 'udp', hostPort: [5000, 5010], guest: '10.220.0.11' },
    ],
  })
  ;(spec2.ipv4 as any).dhcp.hosts.push({ mac: '52:54:00:aa:00:02', ip: '10.220.0.11', name: 'db' })
  await n.up(spec2 as Parameters<Network['up']>[0])
  const after = await linkNames(host)
  t.notOk(after.includes('life-p0'), 'removed port is gone')
  t.ok(after.includes('life-p2'), 'new port is there')
  t.match(after, /life-p1/, 'kept port is still there')
  t.match(await host.run('nft', ['list', 'ruleset']), /5000-5010/, 'new forward installed')
  const g = await guestOnBridge(t, host, n.bridge!, 'g-db', '52:54:00:aa:00:02')
  t.equal((await dhcp(g))?.ip, '10.220.0.11', 'new reservation effective')
  await n.down()
  await assertNothingLeft(t, host, 'life')
})

t.test('ports: tap with owner and queues; non-persistent taps hand over fds', async (t) => {
  const host = await makeNs(t, 'kvn')
  const n = net(t, host, {
    name: 'ports',
    mode: 'isolated',
    ports: [{ name: 'pt-own', owner: 65534, group: 65534, queues: 4 }, { name: 'pt-fd', persistent: false }],
  })
  await n.up()
  const detail = await host.run('ip', ['-d', 'link', 'show', 'pt-own'])
  t.match(detail, /tun type tap .*multi_queue/s, 'multiqueue tap')
  t.match(detail, /user (65534|nobody) group (65534|nogroup)/, 'owner and group')
  t.equal(n.portFdsOf('pt-fd').length, 1, 'non-persistent tap: fds handed over')
  const ports = await n.ports()
  t.same(ports.map((p) => p.name).sort(), ['pt-fd', 'pt-own'])
  const added = await n.addPort({ name: 'pt-new', mac: '52:54:00:12:34:56' })
  t.equal(added.mac, '52:54:00:12:34:56')
  t.equal((await link(host, 'pt-new'))?.master, 'kvbr-ports')
  const withNew = await linkNames(host)
  t.ok(withNew.includes('pt-own') && withNew.includes('pt-fd'), 'adding a port keeps the others')
  await n.removePort('pt-new')
  t.notOk((await linkNames(host)).includes('pt-new'))
  // A failed re-apply must not close the fds an earlier apply handed over.
  const fd = n.portFdsOf('pt-fd')[0]!
  await host.ip('link add foreign0 type bridge')
  const clash = await n.up({ ...n.spec, ports: [...(n.spec.ports ?? []), { name: 'foreign0' }] } as NetworkSpec).catch((e: unknown) => e)
  t.type(clash, SpecError, 're-apply fails on a port name taken by a foreign link')
  t.notOk(n.spec.ports?.some((p) => p.name === 'foreign0'), 'the handle keeps the spec that is applied')
  t.ok(fstatSync(fd).isCharacterDevice(), 'the handed-over tap fd is still open')
  // Dropping the port from the spec closes its fds.
  await n.up({ ...n.spec, ports: (n.spec.ports ?? []).filter((p) => p.name !== 'pt-fd') } as NetworkSpec)
  t.same(n.portFdsOf('pt-fd'), [], 'fds of a dropped port are released')
  await n.down()
  await assertNothingLeft(t, host, 'ports')
})

t.test('bad specs are refused before anything is created', async (t) => {
  const host = await makeNs(t, 'kvn')
  const before = await configuredLinks(host)
  const bad: unknown[] = [
    { name: 'x', mode: 'nat' },
    { name: 'x', mode: 'nat', ipv4: { address: '10.0.0.1/24' }, bridge: 'name-longer-than-15' },
    { name: 'x', mode: 'nat', ipv4: { address: '10.0.0.1/24', dhcp: { range: ['10.0.1.1', '10.0.1.9'] } } },
    { name: 'x', mode: 'nat', ipv4: { address: '10.0.0.1/24' }, forwards: [{ proto: 'tcp', hostPort: 0, guest: '10.0.0.5' }] },
    { name: 'x', mode: 'bridge' },
    { name: 'x', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'p', owner: 5 }] },
  ]
  for (const spec of bad) t.throws(() => createNetwork(spec as NetworkSpec, options(host)), SpecError)
  // Each refused with the field as the user wrote it (these used to pass validation and fail mid-apply).
  const named: [string, unknown, string][] = [
    ['port vm+0', { name: 'x', mode: 'nat', ipv4: { address: '10.0.0.1/24' }, ports: [{ name: 'p0' }, { name: 'p1' }, { name: 'vm+0' }] }, 'ports[2].name'],
    ['bridge br@1', { name: 'x', mode: 'isolated', bridge: 'br@1' }, 'bridge'],
    ['range including the host', { name: 'x', mode: 'nat', ipv4: { address: '10.0.0.50/24', dhcp: { range: ['10.0.0.10', '10.0.0.90'] } } }, 'ipv4.dhcp.range'],
    ['all-zero MAC', { name: 'x', mode: 'very-isolated', ports: [{ name: 'p0', mac: '00:00:00:00:00:00' }] }, 'ports[0].mac'],
  ]
  for (const [what, spec, field] of named) {
    const err = await Promise.resolve()
      .then(() => createNetwork(spec as NetworkSpec, options(host)).up())
      .catch((e: unknown) => e)
    t.type(err, SpecError, what)
    t.equal((err as SpecError).field, field, `${what}: names ${field}`)
  }
  // Checks that need the kernel also come before any change.
  const missingNic = net(t, host, { name: 'nonic', mode: 'bridge', interface: 'nope0' })
  await t.rejects(missingNic.up(), SpecError, 'bridge on a missing NIC')
  const missingParent = net(t, host, { name: 'nopar', mode: 'macvtap', interface: 'nope0', ports: [{ name: 'mv0' }] })
  await t.rejects(missingParent.up(), SpecError, 'macvtap on a missing NIC')
  await host.ip('link add other0 type bridge\naddr add 10.230.0.1/24 dev other0\nlink set other0 up')
  const overlap = net(t, host, { name: 'ovl', mode: 'nat', ipv4: { address: '10.230.0.254/16' } })
  t.equal(((await overlap.up().catch((e: unknown) => e)) as SpecError).field, 'ipv4.address', 'a subnet already routed is refused')
  const taken = net(t, host, { name: 'taken', mode: 'isolated', bridge: 'other0' })
  t.equal(((await taken.up().catch((e: unknown) => e)) as SpecError).field, 'bridge', 'an existing bridge that is not ours is refused')
  await host.ip('link del other0')
  t.same(await configuredLinks(host), before, 'nothing was created')
  t.equal((await host.run('nft', ['list', 'tables'])).trim(), '', 'no nft table')
})

t.test('a failure injected at any step leaves nothing behind', async (t) => {
  const host = await makeNs(t, 'kvn')
  const before = await configuredLinks(host)
  const forwardBefore = (await host.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim()
  for (const at of ['addresses', 'sysctls', 'nft', 'dnsmasq', 'ports', 'state']) {
    const n = net(t, host, natSpec(), {
      faultInjector: (step: string) => {
        if (step === at) throw new Error(`injected at ${at}`)
      },
    })
    await t.rejects(n.up(), { message: `injected at ${at}` }, `failure at ${at} is reported as itself`)
    t.same(await configuredLinks(host), before, `${at}: no link left`)
    await assertNothingLeft(t, host, 'life')
    t.equal((await host.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), forwardBefore, `${at}: sysctl restored`)
  }
})

t.test('a rollback that fails is reported together with the original error', async (t) => {
  const host = await makeNs(t, 'kvn')
  let n: Network | undefined
  n = net(t, host, natSpec({ ports: [] }), {
    faultInjector: (step: string) => {
      if (step === 'state') {
        // Pull the bridge away behind kvmnet's back: undoing its address must now fail.
        host.ip(`link del ${n!.bridge}`).catch(() => undefined)
        throw new Error('injected at state')
      }
    },
  })
  const err = await n.up().then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof RollbackError || (err as Error).message === 'injected at state', 'original error kept')
  if (err instanceof RollbackError) {
    t.equal((err.cause as Error).message, 'injected at state')
    t.ok(err.rollbackErrors.length > 0)
  }
  await n.down().catch(() => undefined)
  await assertNothingLeft(t, host, 'life')
})

t.test('guest -> host DNS: dig resolves reservations and host records', async (t) => {
  const host = await makeNs(t, 'kvn')
  const n = net(t, host, natSpec({ dns: { domain: 'life.test', hosts: [{ name: 'api', ip: '10.220.0.20' }] } }))
  await n.up()
  const g = await guestOnBridge(t, host, n.bridge!, 'g-web', '52:54:00:aa:00:01')
  await dhcp(g, 'eth0', { hostname: 'web' })
  t.equal((await g.run('dig', ['+short', '+time=2', '+tries=1', '@10.220.0.1', 'api.life.test'])).trim(), '10.220.0.20')
  t.equal((await g.run('dig', ['+short', '+time=2', '+tries=1', '@10.220.0.1', 'web.life.test'])).trim(), '10.220.0.10')
  const leases = await n.leases()
  t.same(leases.map((l) => l.ip), ['10.220.0.10'])
  const st = await n.status()
  t.equal(st.up, true, `status up (${st.problems.join('; ')})`)
  t.equal(st.ports.length, 2)
  t.ok(await ping(g, '10.220.0.1'))
})
