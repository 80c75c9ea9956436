/**
 * Upstream DNS by default: a network's dnsmasq forwards what is not local to the resolvers of the namespace
 * the network runs in — /etc/netns/NETNS/resolv.conf when the named namespace has one (as `ip netns exec`
 * would show it), else /etc/resolv.conf — and follows that file's changes. `dns.forwarders: []` keeps a
 * network local-only. Reproduced with real resolvers (dnsmasq) in an "internet" namespace, the namespace's
 * own resolv.conf written (and removed) by the test, and `dig` from a guest on the bridge.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createNetwork, type NetworkSpecInput } from '../../src/index.js'
import { dhcp } from '../helpers/guest.js'
import { guestOn, hostWithOutside } from '../helpers/coexist.js'
import type { TestNs } from '../helpers/ns.js'

const P = 'kh'

/** A resolver in `ns` on `address` that answers every name under example.test with `answer`. */
function resolver(t: Test, ns: TestNs, address: string, answer: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'kh-resolver-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  ns.spawn('dnsmasq', ['-k', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${address}`, '--except-interface=lo', `--address=/example.test/${answer}`, '--user=root', '--group=root', `--pid-file=${join(dir, 'pid')}`, '--log-facility=-'])
}

/** /etc/netns/NAME/resolv.conf for the namespace, removed at teardown. */
function netnsResolvConf(t: Test, ns: TestNs, text: string): string {
  const dir = `/etc/netns/${ns.name}`
  const parentMade = !existsSync('/etc/netns')
  mkdirSync(dir, { recursive: true })
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true })
    // /etc/netns too when this test made it and nothing else is in it (rmdir removes only an empty one).
    try {
      if (parentMade) rmdirSync('/etc/netns')
    } catch (err) {
      // Someone else's namespace files arrived in it meanwhile: theirs to keep.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err
    }
  })
  const file = join(dir, 'resolv.conf')
  writeFileSync(file, text)
  return file
}

async function dig(guest: TestNs, server: string, name: string): Promise<string> {
  const r = await guest.try('dig', ['+short', '+time=2', '+tries=1', `@${server}`, name])
  return r.stdout.trim()
}

async function setup(t: Test, n: number, dns?: { forwarders?: string[] }) {
  const { host, outside } = await hostWithOutside(t, P)
  await outside.ip('addr add 203.0.113.3/24 dev eth0')
  resolver(t, outside, '203.0.113.2', '203.0.113.80')
  resolver(t, outside, '203.0.113.3', '203.0.113.81')
  const conf = netnsResolvConf(t, host, 'nameserver 203.0.113.2\n')
  const spec = { name: `khd${n}`, mode: 'nat', ipv4: { address: `10.233.${n}.1/24`, dhcp: { range: [`10.233.${n}.100`, `10.233.${n}.150`] } }, ...(dns ? { dns } : {}) } as NetworkSpecInput
  const net = createNetwork(spec, { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}`, dnsmasq: 'detached' })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const guest = await guestOn(t, host, net.bridge ?? '', `khd${n}-v0`, P)
  t.ok((await dhcp(guest))?.ip, 'the guest leased')
  return { host, net, guest, conf, gw: `10.233.${n}.1` }
}

t.test("by default a guest resolves outside names through the namespace's resolvers, following resolv.conf's changes", async (t) => {
  const { guest, conf, gw } = await setup(t, 1)
  t.equal(await dig(guest, gw, 'www.example.test'), '203.0.113.80', "answered by the resolver /etc/netns/NS/resolv.conf names")
  // dnsmasq notices a changed resolv-file by its mtime (seconds) when it next forwards.
  await sleep(1100)
  writeFileSync(conf, 'nameserver 203.0.113.3\n')
  await sleep(1100)
  let answer = ''
  for (let i = 0; i < 5 && answer !== '203.0.113.81'; i++) answer = await dig(guest, gw, `n${i}.example.test`)
  t.equal(answer, '203.0.113.81', 'a changed resolv.conf is followed without an up')
})

t.test('dns.forwarders: [] keeps the network local-only', async (t) => {
  const { guest, gw } = await setup(t, 2, { forwarders: [] })
  t.equal(await dig(guest, gw, 'www.example.test'), '', 'no answer from outside')
})

t.test('dns.forwarders listed: those servers, not resolv.conf', async (t) => {
  const { guest, gw } = await setup(t, 3, { forwarders: ['203.0.113.3'] })
  t.equal(await dig(guest, gw, 'www.example.test'), '203.0.113.81')
})
