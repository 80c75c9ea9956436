/**
 * An edit that only adds rules (a forward added, a CNI ADD's port mapping with its reservation) commits a
 * transaction that only adds (adds-only.ts: a deletion makes the process's exit wait an RCU grace period),
 * and leaves exactly the tables a full replace of the same rules makes: every table of the namespace,
 * `nft -j list ruleset` with handles stripped, equal to a network brought up with the edited spec at once.
 * An edit that is not only appends (a forward that must come before an existing one) and a table deleted
 * by hand (the appends are refused) still get the full replace.
 */
import t, { type Test } from 'tap'
import { createNetwork, validateSpec } from '../../src/index.js'
import { edits } from '../../src/network/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { nftChangesDuring } from '../helpers/nft-monitor.js'

type Fwd = { proto: 'tcp' | 'udp'; hostPort: number; guest: string; guestPort: number; hostAddress?: string }

const spec = (name: string, forwards: Fwd[], more: Record<string, unknown> = {}, hosts: unknown[] = []) =>
  validateSpec({
    name,
    mode: 'nat',
    ipv4: { address: '10.233.0.1/24', dhcp: { range: ['10.233.0.100', '10.233.0.150'], hosts } },
    dns: { enabled: false },
    ports: [{ name: `${name}-p0` }],
    forwards,
    ...more,
  })

/** Every table of the namespace as nft lists it in JSON, handles dropped. */
async function listing(host: TestNs): Promise<string> {
  const j = JSON.parse(await host.run('nft', ['-j', 'list', 'ruleset'])) as { nftables: Array<Record<string, Record<string, unknown>>> }
  const objs = j.nftables.filter((o) => !('metainfo' in o))
  for (const o of objs) for (const v of Object.values(o)) delete v.handle
  return JSON.stringify(objs, null, 1)
}

interface Case {
  what: string
  before: Fwd[]
  added: Fwd
  more?: Record<string, unknown>
  reservation?: { mac: string; ip: string; name?: string }
  addsOnly: boolean
}

const base: Fwd = { proto: 'tcp', hostPort: 2222, guest: '10.233.0.105', guestPort: 22 }
const cases: Case[] = [
  { what: 'a forward added', before: [base], added: { proto: 'tcp', hostPort: 8080, guest: '10.233.0.106', guestPort: 80 }, addsOnly: true },
  {
    what: 'a forward added, IPv4 SNAT and IPv6 with a fixed source',
    before: [base, { proto: 'udp', hostPort: 5353, guest: 'fd00:233::5', guestPort: 53 }],
    added: { proto: 'tcp', hostPort: 8443, guest: 'fd00:233::6', guestPort: 443 },
    more: { snat: '203.0.113.9', ipv6: { address: 'fd00:233::1/64', nat66: true, snat: '2001:db8:233::9' } },
    addsOnly: true,
  },
  {
    what: "a CNI ADD's port mapping with its reservation",
    before: [base],
    added: { proto: 'tcp', hostPort: 8081, guest: '10.233.0.110', guestPort: 80 },
    reservation: { mac: '52:54:00:aa:bb:10', ip: '10.233.0.110', name: 'c1' },
    addsOnly: true,
  },
  {
    what: 'a forward bound to an address (it must come before the general ones: a full replace)',
    before: [base],
    added: { proto: 'tcp', hostPort: 9090, guest: '10.233.0.107', guestPort: 90, hostAddress: '10.233.0.1' },
    addsOnly: false,
  },
]

for (const [i, c] of cases.entries()) {
  t.test(c.what, async (t) => {
    const name = `kvaadd${i}`
    const host = await makeNs(t, 'kva')
    const net = createNetwork(spec(name, c.before, c.more), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
    t.teardown(() => net.down().catch(() => undefined))
    await net.up()
    let report: Awaited<ReturnType<typeof net.update>> | undefined
    const during = await nftChangesDuring(host, 'kva', async () => {
      report = await net.update((s, runtime) => {
        const [s1, rt1] = c.reservation ? edits.addReservationEdit(s, runtime, c.reservation) : [s, runtime]
        return edits.addForwardEdit(s1, rt1, c.added)
      })
    })
    t.equal(report?.steps.find((s) => s.step === 'nft')?.outcome, 'updated')
    t.match(during, new RegExp(`^add rule inet kvmnet_${name} prerouting .*dport ${c.added.hostPort}`, 'm'), 'the monitor saw the edit', { during })
    if (c.addsOnly) t.notMatch(during, /^delete /m, 'the edit deleted nothing', { during })
    else t.match(during, /^delete table inet kvmnet_/m, 'a full replace', { during })
    const got = await listing(host)
    t.same((await net.status()).problems, [])
    t.equal(got, await fresh(t, name, [...c.before, c.added], c.more, c.reservation ? [c.reservation] : []), 'the tables a full replace of the same rules makes')
  })
}

t.test("a filtered port added whose guest has its reservation already: only its filter rules appended", async (t) => {
  // Port filters are in the bridge family's table; with the new guest's address reserved before the port
  // comes, no other port's filter changes, so the edit is the new port's rules at the end of the chain.
  const host = await makeNs(t, 'kva')
  const macs = ['52:54:00:aa:cc:01', '52:54:00:aa:cc:02']
  const hosts = macs.map((mac, i) => ({ mac, ip: `10.233.0.${11 + i}` }))
  const ports = [{ name: 'kvapf-p0', mac: macs[0] }]
  const net = createNetwork(spec('kvapf', [base], { filtering: true, ports }, hosts), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const during = await nftChangesDuring(host, 'kva', async () => {
    await net.addPort({ name: 'kvapf-p1', mac: macs[1] })
  })
  t.match(during, /^add rule bridge kvmnet_kvapf port-filter .*kvapf-p1/m, 'the monitor saw the new port\'s filter', { during })
  t.notMatch(during, /^delete /m, 'the edit deleted nothing', { during })
  t.same((await net.status()).problems, [])
  t.equal(await listing(host), await fresh(t, 'kvapf', [base], { filtering: true, ports: [...ports, { name: 'kvapf-p1', mac: macs[1] }] }, hosts), 'the tables a full replace of the same rules makes')
  // And back: the port's rules and its element in the learning table's ports set go (that one alone deleted).
  await net.removePort('kvapf-p1')
  t.same((await net.status()).problems, [])
  t.equal(await listing(host), await fresh(t, 'kvapf', [base], { filtering: true, ports }, hosts), 'after removePort, the tables of the network without it')
})

t.test('a table deleted by hand: the appends are refused, the full replace makes it again', async (t) => {
  const host = await makeNs(t, 'kva')
  const net = createNetwork(spec('kvagone', [base]), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  await host.run('nft', ['delete', 'table', 'inet', 'kvmnet_kvagone'])
  const added: Fwd = { proto: 'tcp', hostPort: 8080, guest: '10.233.0.106', guestPort: 80 }
  await net.addForward(added)
  t.equal(await listing(host), await fresh(t, 'kvagone', [base, added]))
  t.same((await net.status()).problems, [])
})

/** The listing of a network brought up with the edited spec at once, in a namespace of its own. */
async function fresh(t: Test, name: string, forwards: Fwd[], more?: Record<string, unknown>, hosts: unknown[] = []): Promise<string> {
  const host = await makeNs(t, 'kva')
  const net = createNetwork(spec(name, forwards, more, hosts), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  try {
    await net.up()
    return await listing(host)
  } finally {
    await net.down()
  }
}
