/**
 * ufw in the namespace — the real ufw of Debian's package, its configuration and state in a private
 * directory (ufw's --rootdir/--datadir, through a `ufw` wrapper first on PATH), enabled with its default
 * policies: incoming deny, routed deny. Guests then get no DHCP and reach nothing. With coexistence kvmnet
 * asks ufw for route and input allowances on the bridge (comment kvmnet:NET) and deletes them on down.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, doctor, validateSpec, type Network, type NetworkWarning } from '../../src/index.js'
import { dhcp, ping } from '../helpers/guest.js'
import { guestOn, hostWithOutside, iptablesSave, privateUfw } from '../helpers/coexist.js'
import type { TestNs } from '../helpers/ns.js'

const P = 'kvco'
const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = (args: string[]) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, reject: false })

function natSpec(n: number, extra: Record<string, unknown> = {}) {
  return { name: `cu${n}`, mode: 'nat', ipv4: { address: `10.232.${n}.1/24`, dhcp: { range: [`10.232.${n}.100`, `10.232.${n}.150`] } }, ...extra }
}

async function ufwHost(t: Test) {
  const { host } = await hostWithOutside(t, P)
  const ufw = privateUfw(t, `/run/kvmnet-test/${host.name}-ufw`)
  t.teardown(() => execa('rm', ['-rf', `/run/kvmnet-test/${host.name}-ufw`]))
  t.match(await ufw.run(host, ['--force', 'enable']), /Firewall is active/)
  return { host, ufw, stateRoot: `/run/kvmnet-test/${host.name}` }
}

function watch(t: Test, net: Network): NetworkWarning[] {
  const seen: NetworkWarning[] = []
  net.on('warning', (w) => seen.push(w))
  t.teardown(() => net.down().catch(() => undefined))
  return seen
}

async function guests(t: Test, host: TestNs, net: Network, n: number) {
  const g = [await guestOn(t, host, net.bridge ?? '', `cu${n}-v0`, P), await guestOn(t, host, net.bridge ?? '', `cu${n}-v1`, P)]
  return { g, leases: [await dhcp(g[0]!), await dhcp(g[1]!)] }
}

t.test('ufw active, coexistence off: no DHCP; up warns; doctor names ufw (exit 1)', async (t) => {
  const { host, stateRoot } = await ufwHost(t)
  const net = createNetwork(validateSpec(natSpec(1, { firewall: { coexist: false } })), { netns: host.name, stateRoot })
  const warnings = watch(t, net)
  await net.up()
  t.ok(warnings.some((w) => w.code === 'ufw-blocks' && w.network === 'cu1'), JSON.stringify(warnings))
  const { leases } = await guests(t, host, net, 1)
  t.notOk(leases[0], "no lease: ufw's default incoming policy drops DHCP")
  const r = await doctor({ netns: host.name, stateRoot })
  const input = r.findings.find((f) => f.code === 'ufw-input-drop')
  t.ok(input, JSON.stringify(r.findings))
  t.match(input?.object, /ufw active \(default incoming deny, routed deny\)/, 'its state: active, default policies')
  t.match(input?.fix, /ufw allow in on kvbr-cu1 to any port 67 proto udp comment kvmnet:cu1/)
  t.ok(r.findings.some((f) => f.code === 'ufw-routed-drop'), 'routed policy named too')
  const c = await cli(['doctor', 'cu1', '--netns', host.name, '--state-root', stateRoot])
  t.equal(c.exitCode, 1)
  t.match(c.stdout, /ufw-input-drop/)
})

t.test("ufw active, coexistence on: ufw's allowances make DHCP, the outside and guest <-> guest work; down deletes exactly them", async (t) => {
  const { host, ufw, stateRoot } = await ufwHost(t)
  // The administrator's own rule of the same form: ufw would re-comment it if kvmnet added its own.
  await ufw.run(host, ['allow', 'in', 'on', 'kvbr-cu2', 'to', 'any', 'port', '53'])
  const addedBefore = await ufw.run(host, ['show', 'added'])
  const saveBefore = await iptablesSave(host)
  const net = createNetwork(validateSpec(natSpec(2)), { netns: host.name, stateRoot })
  const warnings = watch(t, net)
  await net.up()
  t.same(warnings, [])
  const added = await ufw.run(host, ['show', 'added'])
  t.match(added, /ufw route allow in on kvbr-cu2 comment 'kvmnet:cu2'/)
  t.match(added, /ufw route allow out on kvbr-cu2 comment 'kvmnet:cu2'/)
  t.match(added, /ufw allow in on kvbr-cu2 to any port 67 proto udp comment 'kvmnet:cu2'/)
  t.match(added, /^ufw allow in on kvbr-cu2 to any port 53$/m, "the administrator's rule is unchanged (no kvmnet comment)")
  const { g, leases } = await guests(t, host, net, 2)
  t.ok(leases[0] && leases[1], 'both guests leased through ufw')
  t.ok(await ping(g[0]!, '203.0.113.2'), 'guest 0 reaches the outside')
  t.ok(await ping(g[0]!, leases[1]?.ip ?? ''), 'guest 0 reaches guest 1')
  const r = await doctor({ netns: host.name, stateRoot })
  t.notOk(r.findings.some((f) => f.severity === 'error'), JSON.stringify(r.findings))
  t.ok(r.findings.some((f) => f.code === 'ufw-active' && f.severity === 'info'), 'ufw reported, as letting the bridge through')
  await net.down()
  t.equal(await ufw.run(host, ['show', 'added']), addedBefore, "down deleted kvmnet's ufw rules and only those")
  t.equal(await iptablesSave(host), saveBefore, 'iptables-save is as before up')
})
