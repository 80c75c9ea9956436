/**
 * firewalld in the namespace — Debian's firewalld, run inside the test's namespace on its own D-Bus
 * (a private dbus-daemon; firewall-cmd, kvmnet's too, reaches it through DBUS_SYSTEM_BUS_ADDRESS) with a
 * private copy of /etc/firewalld. An interface in no zone falls into the default zone (public), which
 * rejects guests' DHCP and forwarding. With coexistence kvmnet binds the bridge to the `trusted` zone at
 * runtime and unbinds it on down; a bridge the administrator put in a zone is left there.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { createNetwork, doctor, validateSpec, type NetworkWarning } from '../../src/index.js'
import { dhcp, ping } from '../helpers/guest.js'
import { guestOn, hostWithOutside, privateFirewalld } from '../helpers/coexist.js'

const P = 'kvco'
const spec = (n: number, extra: Record<string, unknown> = {}) => ({ name: `cd${n}`, mode: 'nat', ipv4: { address: `10.234.${n}.1/24`, dhcp: { range: [`10.234.${n}.100`, `10.234.${n}.150`] } }, ...extra })

t.test('firewalld', { skip: existsSync('/usr/sbin/firewalld') ? false : 'firewalld is not installed (scripts/ci-packages.txt)' }, async (t) => {
  const { host } = await hostWithOutside(t, P)
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const fw = await privateFirewalld(t, host, `/run/kvmnet-test/${host.name}-firewalld`)
  t.teardown(() => import('node:fs/promises').then((fs) => fs.rm(`/run/kvmnet-test/${host.name}-firewalld`, { recursive: true, force: true })))
  t.match(await host.run('nft', ['list', 'tables']), /table inet firewalld/, "firewalld's table is in the namespace")

  await t.test('coexistence off: no DHCP; up warns; doctor names the zone (exit 1)', async (t) => {
    const net = createNetwork(validateSpec(spec(1, { firewall: { coexist: false } })), { netns: host.name, stateRoot })
    const warnings: NetworkWarning[] = []
    net.on('warning', (w) => warnings.push(w))
    t.teardown(() => net.down().catch(() => undefined))
    await net.up()
    t.ok(warnings.some((w) => w.code === 'firewalld-zone'), JSON.stringify(warnings))
    const g = await guestOn(t, host, net.bridge ?? '', 'cd1-v0', P)
    t.notOk(await dhcp(g), 'no lease: the default zone rejects DHCP')
    const r = await doctor({ netns: host.name, stateRoot, network: 'cd1' })
    const f = r.findings.find((x) => x.code === 'firewalld-zone')
    t.equal(f?.severity, 'error', JSON.stringify(r.findings))
    t.match(f?.object, /inet firewalld \(firewalld pid \d+\): kvbr-cd1 in no zone \(default zone public\)/)
    t.match(f?.fix, /firewall-cmd --zone=trusted --add-interface=kvbr-cd1/)
    await net.down()
  })

  await t.test('coexistence on: the bridge in the trusted zone; DHCP, the outside and guest <-> guest work; down unbinds it', async (t) => {
    const tableBefore = await host.run('nft', ['list', 'table', 'inet', 'firewalld'])
    const net = createNetwork(validateSpec(spec(2)), { netns: host.name, stateRoot })
    const warnings: NetworkWarning[] = []
    net.on('warning', (w) => warnings.push(w))
    t.teardown(() => net.down().catch(() => undefined))
    await net.up()
    t.same(warnings, [])
    t.equal((await fw.cmd(['--get-zone-of-interface=kvbr-cd2'])).stdout.trim(), 'trusted')
    const g = [await guestOn(t, host, 'kvbr-cd2', 'cd2-v0', P), await guestOn(t, host, 'kvbr-cd2', 'cd2-v1', P)]
    const leases = [await dhcp(g[0]!), await dhcp(g[1]!)]
    t.ok(leases[0] && leases[1], 'both guests leased')
    t.ok(await ping(g[0]!, '203.0.113.2'), 'guest 0 reaches the outside')
    t.ok(await ping(g[1]!, leases[0]?.ip ?? ''), 'guest 1 reaches guest 0')
    const r = await doctor({ netns: host.name, stateRoot, network: 'cd2' })
    t.notOk(r.findings.some((f) => f.severity === 'error'), JSON.stringify(r.findings))
    t.ok(r.findings.some((f) => f.code === 'firewalld-active' && f.severity === 'info'))
    await net.down()
    const after = await fw.cmd(['--get-zone-of-interface=kvbr-cd2'])
    t.match(after.stdout + after.stderr, /no zone/, 'down unbound the bridge')
    // firewalld keeps the (empty, unreferenced) chains of a zone it once activated: its own bookkeeping. What
    // dispatched the bridge's traffic is gone.
    const tableAfter = await host.run('nft', ['list', 'table', 'inet', 'firewalld'])
    t.match(tableBefore, /filter_INPUT_ZONES/)
    t.notMatch(tableAfter, /kvbr-cd2/, "no rule of firewalld's table names the bridge any more")
  })

  await t.test("a bridge the administrator put in a zone stays there, before and after down", async (t) => {
    t.equal((await fw.cmd(['--zone=internal', '--add-interface=kvbr-cd3'])).exitCode, 0)
    const net = createNetwork(validateSpec(spec(3)), { netns: host.name, stateRoot })
    t.teardown(() => net.down().catch(() => undefined))
    const report = await net.up()
    t.ok(report.steps.some((s) => s.step === 'coexist' && s.outcome === 'unchanged'), 'nothing added')
    t.equal((await fw.cmd(['--get-zone-of-interface=kvbr-cd3'])).stdout.trim(), 'internal')
    const r = await doctor({ netns: host.name, stateRoot, network: 'cd3' })
    t.ok(r.findings.some((f) => f.code === 'firewalld-zone' && f.severity === 'warning' && /in zone internal/.test(f.object)), JSON.stringify(r.findings))
    await net.down()
    t.equal((await fw.cmd(['--get-zone-of-interface=kvbr-cd3'])).stdout.trim(), 'internal', 'still in its zone after down')
  })
})
