/**
 * Sysctls shared by the networks of a namespace: the ledger keeps the value before and the users; a
 * network's down never writes another network's state file; the last user puts a key back, except the
 * global forwarding switches, which stay on (libvirt's network started meanwhile must keep the outside:
 * before the fix, `down` wrote ip_forward=0 behind its back). Two downs at once neither deadlock nor lose
 * the ledger.
 */
import t, { type Test } from 'tap'
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createNetwork, type Network, type NetworkSpecInput } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { stateFileOf } from '../helpers/leftovers.js'
import { native } from '../../src/native/index.js'
import { claimSysctls, releaseSysctls } from '../../src/network/sysctl-ledger.js'

const sysctl = async (ns: TestNs, key: string) => (await ns.run('sysctl', ['-n', key])).trim()

function up(t: Test, ns: TestNs, stateRoot: string, spec: NetworkSpecInput): Promise<Network> {
  const net = createNetwork(spec, { netns: ns.name, stateRoot })
  t.teardown(() => net.down().catch(() => undefined))
  return net.up().then(() => net)
}

const routed = (i: number): NetworkSpecInput => ({ name: `r${i}`, mode: 'routed', ipv4: { address: `10.219.${i}.1/24` } })
const nat = (i: number): NetworkSpecInput => ({ name: `n${i}`, mode: 'nat', ipv4: { address: `10.219.${i}.1/24` }, forwards: [{ proto: 'tcp', hostPort: 8000 + i, guest: `10.219.${i}.10` }] })

t.test('two networks share ip_forward; down leaves forwarding on and never writes the other state', async (t) => {
  const ns = await makeNs(t, 'kvsl')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  t.equal(await sysctl(ns, 'net.ipv4.ip_forward'), '0', 'a new namespace does not forward')
  const a = await up(t, ns, stateRoot, routed(1))
  t.equal(await sysctl(ns, 'net.ipv4.ip_forward'), '1', 'forwarding on for the first network')
  const b = await up(t, ns, stateRoot, nat(2))
  t.equal(await sysctl(ns, 'net.ipv4.conf.kvbr-n2.route_localnet'), '1', "the forward's route_localnet on n2's bridge")
  const bFile = stateFileOf(stateRoot, 'n2')!
  const ledger = join(dirname(dirname(bFile)), 'sysctls.json')
  t.match(JSON.parse(readFileSync(ledger, 'utf8')), { 'net/ipv4/ip_forward': { before: '0', users: ['r1', 'n2'] } }, 'the ledger names both users')
  const bBefore = readFileSync(bFile, 'utf8')
  await a.down()
  t.equal(readFileSync(bFile, 'utf8'), bBefore, "a's down did not write b's state")
  t.equal(await sysctl(ns, 'net.ipv4.ip_forward'), '1', 'still on: n2 needs it')
  t.match(JSON.parse(readFileSync(ledger, 'utf8')), { 'net/ipv4/ip_forward': { users: ['n2'] } })
  await b.down()
  t.equal(await sysctl(ns, 'net.ipv4.ip_forward'), '1', 'left on after the last network: another manager may rely on it')
  t.notOk(existsSync(ledger), 'the ledger goes with its last user')
  t.notOk(existsSync(stateRoot) && readdirSync(stateRoot).length > 0, 'nothing left under the state root')
})

t.test('a key with no user left is put back (accept-nothing keys such as route_localnet go with the bridge)', async (t) => {
  const ns = await makeNs(t, 'kvsl')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  // A converge that drops the only forward releases route_localnet at once.
  const net = await up(t, ns, stateRoot, nat(3))
  t.equal(await sysctl(ns, 'net.ipv4.conf.kvbr-n3.route_localnet'), '1')
  await net.up({ name: 'n3', mode: 'nat', ipv4: { address: '10.219.3.1/24' } })
  t.equal(await sysctl(ns, 'net.ipv4.conf.kvbr-n3.route_localnet'), '0', 'put back when no longer needed')
  await net.down()
})

t.test('two downs at once: no deadlock, the ledger ends empty', async (t) => {
  const ns = await makeNs(t, 'kvsl')
  const stateRoot = `/run/kvmnet-test/${ns.name}`
  const nets = await Promise.all([4, 5, 6].map((i) => up(t, ns, stateRoot, routed(i))))
  await Promise.all(nets.map((n) => n.down()))
  t.notOk(existsSync(stateRoot) && readdirSync(stateRoot).length > 0, 'nothing left under the state root')
  t.equal(await sysctl(ns, 'net.ipv4.ip_forward'), '1')
})

t.test('claiming and releasing keys enters the namespace once per batch, not once per key and access', async (t) => {
  const ns = await makeNs(t, 'kvs')
  const ref = { path: ns.path, name: ns.name }
  await ns.ip('link add kvs0 type veth peer name kvs1')
  const stateDir = join(`/run/kvmnet-test/${ns.name}`, 'ns', 'c1')
  t.teardown(() => rmSync(`/run/kvmnet-test/${ns.name}`, { recursive: true, force: true }))
  const original = native.withNetns
  let switches = 0
  native.withNetns = (path, f) => (switches++, Reflect.apply(original, native, [path, f]))
  t.teardown(() => void (native.withNetns = original))
  const wanted = [
    { key: 'net/ipv4/ip_forward', value: '1' },
    { key: 'net/ipv4/conf/kvs0/route_localnet', value: '1' },
  ]
  t.same(await claimSysctls(ref, stateDir, 'c1', wanted), ['net/ipv4/ip_forward', 'net/ipv4/conf/kvs0/route_localnet'])
  t.equal(switches, 2, 'read (and read again under the lock) through one opening, written through another: was 6')
  t.equal(await sysctl(ns, 'net.ipv4.conf.kvs0.route_localnet'), '1')
  switches = 0
  t.same(await claimSysctls(ref, stateDir, 'c1', wanted), [], 'already in force: nothing written')
  t.equal(switches, 1)
  switches = 0
  await releaseSysctls(ref, stateDir, 'c1', { restoreKept: true })
  t.equal(switches, 1, 'both put back with one switch')
  t.equal(await sysctl(ns, 'net.ipv4.ip_forward'), '0')
  t.equal(await sysctl(ns, 'net.ipv4.conf.kvs0.route_localnet'), '0')
})
