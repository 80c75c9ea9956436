/**
 * Ownership and leftovers on a host that is not a clean lab: links kvmnet did not create sharing the
 * network's group, two state roots, a namespace deleted under a running network, a dnsmasq that died, a
 * tap QEMU still holds, a namespace named by different paths.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { rm, stat } from 'node:fs/promises'
import { createNetwork, gc, openNetwork, validateSpec, InUseError, SpecError, type Network } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { dhcp, guestOnBridge } from '../helpers/guest.js'
import { processesIn } from '../helpers/leftovers.js'
import { link, links } from '../helpers/ip.js'
import { readableCopy } from '../helpers/readable-copy.js'
import { join } from 'node:path'

function rootOf(ns: TestNs, which = 'a'): string {
  return `/run/kvmnet-test/${ns.name}-${which}`
}

function make(t: Test, ns: TestNs, spec: unknown, root = rootOf(ns)): Network {
  const n = createNetwork(validateSpec(spec), { netns: ns.name, stateRoot: root })
  t.teardown(async () => {
    await n.down().catch(() => undefined)
    await rm(root, { recursive: true, force: true })
  })
  return n
}

const dhcpNet = (name: string, n: number, extra: Record<string, unknown> = {}) => ({
  name,
  mode: 'nat',
  ipv4: { address: `10.213.${n}.1/24`, dhcp: { range: [`10.213.${n}.100`, `10.213.${n}.150`] } },
  ...extra,
})

t.test("an administrator's veth in the network's group survives down; a foreign group member is refused at up", async (t) => {
  const host = await makeNs(t, 'kvr')
  const net = make(t, host, { name: 'grp', mode: 'very-isolated', group: 77, ports: [{ name: 'grp-p0' }] })
  await net.up()
  await host.ip('link add admin0 type veth peer name admin1\nlink set admin0 group 77')
  await net.down()
  t.same((await links(host, 'group', '77')).map((l) => l.ifname), ['admin0'], "only the administrator's link is left in the group")
  t.equal(await link(host, 'grp-p0'), undefined, "the network's port is gone")
  const again = make(t, host, { name: 'grp', mode: 'very-isolated', group: 77 })
  const err = await again.up().catch((e: unknown) => e)
  t.type(err, SpecError)
  t.equal((err as SpecError).field, 'group', 'a group holding foreign links is refused')
  t.equal(await link(host, 'kvbr-grp'), undefined, 'and nothing was created')
})

t.test('gc of one state root leaves a live network of another root untouched', async (t) => {
  const host = await makeNs(t, 'kvr')
  const other = make(t, host, dhcpNet('otherroot', 1, { ports: [{ name: 'or-p0' }] }), rootOf(host, 'b'))
  await other.up()
  const r = await gc({ netns: host.name, stateRoot: rootOf(host, 'a') })
  t.same([r.networks, r.links, r.tables, r.errors], [[], [], [], []], 'gc of root a found nothing of its own')
  t.same((await other.status()).problems, [], "root b's network is intact")
  // And gc of root b, whose network's owner (this process) lives, leaves it too.
  const rb = await gc({ netns: host.name, stateRoot: rootOf(host, 'b') })
  t.same(rb.links, [])
  t.same((await other.status()).problems, [], 'still intact')
})

t.test('a namespace deleted under a running network: gc stops its dnsmasq and removes its state', async (t) => {
  const host = await makeNs(t, 'kvr')
  const root = rootOf(host)
  const spec = validateSpec(dhcpNet('gone', 2))
  // Detached, as `kvmnet up` leaves it: the dnsmasq outlives this handle and keeps the namespace alive.
  const net = createNetwork(spec, { netns: host.name, stateRoot: root, dnsmasq: 'detached' })
  t.teardown(() => rm(root, { recursive: true, force: true }))
  await net.up()
  net.close()
  const nsFile = await stat(host.path)
  const dnsmasqs = processesIn(host.path, 'dnsmasq')
  t.equal(dnsmasqs.length, 1, 'dnsmasq runs')
  await execa('ip', ['netns', 'delete', host.name])
  const r = await gc({ stateRoot: root })
  t.same(r.orphaned, ['gone'], 'reported as orphaned')
  for (const pid of dnsmasqs) t.notOk(await alive(pid), `dnsmasq ${pid} stopped`)
  t.notOk(await stat(root).then(() => true, () => false), 'no state left')
  t.ok(nsFile.ino > 0)
})

t.test('leases are read from the lease file: after dnsmasq died, and as an unprivileged user', async (t) => {
  const host = await makeNs(t, 'kvr')
  const net = make(t, host, dhcpNet('lz', 3, { ports: [{ name: 'lz-p0' }] }))
  await net.up()
  const [port] = await net.ports()
  const guest = await guestOnBridge(t, host, net.bridge!, 'lz-v0', port!.mac)
  const waiting = net.waitForLease('lz-p0', { timeoutMs: 15_000 })
  const lease = await dhcp(guest)
  t.ok(lease, 'the guest leased')
  const got = await waiting
  t.equal(got.ip, lease!.ip, 'waitForLease resolved with the lease')
  t.equal(got.port, 'lz-p0', 'the lease names its port')
  // dnsmasq dies (and this handle stops supervising it): the lease file still tells.
  const st = await net.status()
  net.close()
  const reader = await openNetwork('lz', { netns: host.name, stateRoot: rootOf(host) })
  process.kill(st.dnsmasq!.pid!, 'SIGKILL')
  const after = await reader.leases()
  t.same(after.map((l) => l.ip), [lease!.ip], 'leases() still lists the lease')
  const asNobody = await execa(
    'setpriv',
    // The built library from a copy nobody can read: the checkout may sit under a 0700 directory. `env -i`:
    // the runner hooks every child it spawns with NODE_OPTIONS loading its own modules from the checkout.
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, '-e',
      `import('${join(readableCopy(), 'dist/index.js')}').then(async (k) => { const n = await k.openNetwork('lz', { netns: '${host.name}', stateRoot: '${rootOf(host)}' }); console.log(JSON.stringify(await n.leases())) }).catch((e) => { console.log('ERROR ' + e.name + ' ' + (e.code ?? '')); process.exitCode = 3 })`],
    { reject: false, cwd: readableCopy() },
  )
  const listed = asNobody.stdout.includes(lease!.ip)
  const clearError = /^ERROR \w+Error/m.test(asNobody.stdout) && asNobody.exitCode !== 0
  t.ok(listed || clearError, `unprivileged: the lease or a typed error, never an empty list (${asNobody.stdout.trim()})`)
  t.notOk(asNobody.stdout.trim() === '[]', 'never an empty table')
})

t.test('takePortFds hands a tap to its user; removing a tap still held open is refused unless forced', async (t) => {
  const host = await makeNs(t, 'kvr')
  const net = make(t, host, { name: 'fds', mode: 'very-isolated', ports: [{ name: 'fds-p0', persistent: false }, { name: 'fds-p1' }] })
  await net.up()
  const fds = net.takePortFds('fds-p0')
  t.ok(fds.length > 0, 'the caller now owns the fds')
  t.throws(() => net.takePortFds('fds-p0'), 'taken once only')
  const err = await net.removePort('fds-p0').catch((e: unknown) => e)
  t.type(err, InUseError, 'a tap someone holds is not removed')
  t.ok(await link(host, 'fds-p0'), 'still there')
  await net.removePort('fds-p0', { force: true })
  t.equal(await link(host, 'fds-p0'), undefined, 'forced: gone')
  await net.removePort('fds-p1')
  t.equal(await link(host, 'fds-p1'), undefined, 'a tap nobody holds is removed')
  const { closeSync } = await import('node:fs')
  for (const fd of fds) closeSync(fd)
})

t.test('one namespace, one state location, whatever path names it', async (t) => {
  const host = await makeNs(t, 'kvr')
  const root = rootOf(host)
  const net = make(t, host, { name: 'paths', mode: 'very-isolated' })
  await net.up()
  for (const spelling of [`/run/netns/../netns/${host.name}`, host.path]) {
    const again = await openNetwork('paths', { netns: spelling, stateRoot: root })
    t.equal(again.stateDir, net.stateDir, `${spelling}: the same state`)
  }
  await t.rejects(openNetwork('../other/lab', { netns: host.name, stateRoot: root }), SpecError, 'a NAME with a path is refused')
})

async function alive(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const s = await stat(`/proc/${pid}`).then(() => true, () => false)
    if (!s) return false
    const state = (await import('node:fs/promises')).readFile(`/proc/${pid}/stat`, 'utf8').then((x) => x.slice(x.lastIndexOf(')') + 2, x.lastIndexOf(')') + 3), () => 'X')
    if ((await state) === 'Z' || (await state) === 'X') return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}

t.test('a link cut short between its creation and its alias (a kill mid-apply) is finished by up and removed by down', async (t) => {
  const host = await makeNs(t, 'kvr')
  const net = make(t, host, { name: 'half', mode: 'very-isolated', ports: [{ name: 'half-p0' }] })
  await net.up()
  // What a SIGKILL between RTM_NEWLINK and the alias request leaves: the link, in the network's group, untagged.
  await host.ip('link set dev kvbr-half alias ""\nlink set dev half-p0 alias ""')
  t.notOk((await link(host, 'kvbr-half'))?.ifalias, 'the bridge has no alias')
  await net.up()
  t.match((await link(host, 'kvbr-half'))?.ifalias, /^kvmnet:half:bridge@/, 'up finished tagging the bridge')
  t.match((await link(host, 'half-p0'))?.ifalias, /^kvmnet:half:port@/, 'and the port')
  await host.ip('link set dev kvbr-half alias ""')
  await net.down()
  t.equal(await link(host, 'kvbr-half'), undefined, 'down removes the untagged bridge of its own group')
})
