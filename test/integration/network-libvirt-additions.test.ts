/**
 * What libvirt networks have in plain networking (issue 23 item 2), with real clients in `ks-` namespaces:
 * DHCP from each of several ranges and from an extra subnet (reservations only there), reserved MACs,
 * dotted reservation names, SRV/TXT records through dig, a forwarder limited to one domain (a dnsmasq of
 * the test's own acting as that domain's upstream), the local domain never forwarded, NAT of the extra
 * subnet to an "internet" namespace; reservations-only DHCP refusing an unknown MAC; an IPv6-only network
 * giving RA and DHCPv6 (a DUID reservation with its own lease time) and no IPv4 at all.
 */
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ipaddr from 'ipaddr.js'
import { createNetwork, validateSpec } from '../../src/index.js'
import { dhcp, tcpGet, tcpServer } from '../helpers/guest.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

/** A host with an uplink to an "internet" namespace on 203.0.113.0/24 that has no route back (only NAT answers). */
async function hostAndInternet(t: Teardownable): Promise<{ host: TestNs; inet: TestNs }> {
  const host = await makeNs(t, 'ks')
  const inet = await makeNs(t, 'ks')
  await host.ip([`link add uplink0 type veth peer name eth0 netns ${inet.name}`, 'addr add 203.0.113.1/24 dev uplink0', 'link set uplink0 up', 'route add default via 203.0.113.2'].join('\n'))
  await inet.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up', 'link set lo up'].join('\n'))
  return { host, inet }
}

async function guest(t: Teardownable, host: TestNs, bridge: string, veth: string, mac: string): Promise<TestNs> {
  const g = await makeNs(t, 'ks')
  await host.ip([`link add ${veth} type veth peer name eth0 netns ${g.name} address ${mac}`, `link set ${veth} master ${bridge} up`].join('\n'))
  await g.ip('link set eth0 up')
  return g
}

const dig = async (ns: TestNs, server: string, type: string, name: string) => (await ns.run('dig', ['+short', '+time=2', '+tries=2', type, name, `@${server}`])).trim()

t.test('nat: several ranges, an extra subnet (reservations only, NATed), SRV/TXT, a domain forwarder, the local domain kept local', async (t) => {
  const { host, inet } = await hostAndInternet(t)
  // The upstream for corp.test (and, were it asked, for lab.test: it must never be).
  inet.spawn('dnsmasq', ['-k', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=203.0.113.2', '--address=/corp.test/198.51.100.77', '--address=/lab.test/198.51.100.99'])
  tcpServer(inet, 7700, 'hello')
  await waitFor(async () => (await inet.try('dig', ['+short', '+time=1', '+tries=1', 'A', 'x.corp.test', '@203.0.113.2'])).stdout.trim() === '198.51.100.77', 10_000, 100)
  const net = createNetwork(
    validateSpec({
      name: 'kslv',
      mode: 'nat',
      ipv4: {
        address: '10.231.0.1/24',
        dhcp: {
          // The first range holds one address, so the second guest must come from the second range.
          ranges: [{ start: '10.231.0.10', end: '10.231.0.10' }, { start: '10.231.0.100', end: '10.231.0.110', leaseTime: 600 }],
          hosts: [{ mac: '52:54:00:4b:00:01', ip: '10.231.0.5', name: 'paul.lab.test' }],
        },
        extra: [{ address: '10.232.0.1/24', dhcp: { hosts: [{ mac: '52:54:00:4b:00:09', ip: '10.232.0.9', name: 'extra9' }] } }],
      },
      dns: {
        domain: 'lab.test',
        srv: [{ service: 'ldap', protocol: 'tcp', target: 'ldap.lab.test', port: 389, priority: 10, weight: 5 }],
        txt: [{ name: 'info.lab.test', value: 'v=1, "quoted" # not a comment' }],
        forwarders: ['203.0.113.2', { domain: 'corp.test', address: '203.0.113.2' }],
      },
    }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const br = net.bridge!
  const reserved = await guest(t, host, br, 'ks-g1', '52:54:00:4b:00:01')
  const first = await guest(t, host, br, 'ks-g2', '52:54:00:4b:00:02')
  const second = await guest(t, host, br, 'ks-g3', '52:54:00:4b:00:03')
  const extra = await guest(t, host, br, 'ks-g9', '52:54:00:4b:00:09')
  t.equal((await dhcp(reserved))?.ip, '10.231.0.5', 'the reserved MAC gets its address')
  t.equal((await dhcp(first))?.ip, '10.231.0.10', 'a guest from the first range')
  const l2 = await dhcp(second)
  t.ok(l2 && /^10\.231\.0\.1(0[0-9]|10)$/.test(l2.ip), `a guest from the second range (${l2?.ip})`)
  const l9 = await dhcp(extra)
  t.equal(l9?.ip, '10.232.0.9', 'the extra subnet hands out its reservation')
  t.equal(l9?.router, '10.232.0.1', "with the extra subnet's host address as router")
  t.equal(l9?.dns, '10.232.0.1', '… and as DNS server')
  t.equal(await tcpGet(extra, '203.0.113.2', 7700), 'hello 203.0.113.1', 'the extra subnet reaches the internet, masqueraded')
  t.equal(await dig(first, '10.231.0.1', 'SRV', '_ldap._tcp.lab.test'), '10 5 389 ldap.lab.test.', 'SRV answers')
  t.equal(await dig(first, '10.231.0.1', 'TXT', 'info.lab.test'), '"v=1, \\"quoted\\" # not a comment"', 'TXT answers with the whole value')
  t.equal(await dig(first, '10.231.0.1', 'A', 'www.corp.test'), '198.51.100.77', "the domain's forwarder answers")
  t.equal(await dig(inet, '203.0.113.2', 'A', 'unknown.lab.test'), '198.51.100.99', 'the upstream would answer for lab.test …')
  t.equal(await dig(first, '10.231.0.1', 'A', 'unknown.lab.test'), '', '… but the local domain is not forwarded')
  t.equal(await dig(first, '10.232.0.1', 'A', 'paul.lab.test'), '10.231.0.5', 'the dotted reservation name resolves (asked on the extra subnet address)')
  await net.down()
})

t.test('reservations-only DHCP: the reserved MAC gets its address, an unknown MAC none', async (t) => {
  const host = await makeNs(t, 'ks')
  const net = createNetwork(
    validateSpec({ name: 'ksres', mode: 'isolated', ipv4: { address: '10.233.0.1/24', dhcp: { hosts: [{ mac: '52:54:00:4b:01:01', ip: '10.233.0.50', name: 'only.other.test' }] } } }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const known = await guest(t, host, net.bridge!, 'ks-r1', '52:54:00:4b:01:01')
  const unknown = await guest(t, host, net.bridge!, 'ks-r2', '52:54:00:4b:01:02')
  t.equal((await dhcp(known))?.ip, '10.233.0.50', 'reserved')
  t.equal(await dhcp(unknown, 'eth0', { tries: 2 }), undefined, 'an unknown MAC gets no lease')
  // dnsmasq keeps a dotted name's domain only when it is the network's domain (here there is none).
  t.equal(await dig(known, '10.233.0.1', 'A', 'only'), '10.233.0.50', 'a dotted name in another domain answers by its first label')
  t.equal(await dig(known, '10.233.0.1', 'A', 'only.other.test'), '', '… not by the whole name (as the README says)')
  await net.down()
})

t.test('IPv6-only routed: RA and DHCPv6 (a DUID reservation with its own lease time), no IPv4', async (t) => {
  const host = await makeNs(t, 'ks')
  const mac = '52:54:00:4b:06:42'
  const duid = `00:03:00:01:${mac}`
  const net = createNetwork(
    validateSpec({
      name: 'ksv6',
      mode: 'routed',
      ipv6: { address: 'fd00:234::1/64', dhcp: { ranges: [{ start: 'fd00:234::100', end: 'fd00:234::1ff' }], hosts: [{ id: duid, ip: 'fd00:234::42', name: 'six.v6.test', leaseTime: 7200 }] } },
      dns: { domain: 'v6.test' },
    }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const addrs = (await host.run('ip', ['-o', 'addr', 'show', 'dev', net.bridge!])).split('\n')
  t.notOk(addrs.some((l) => / inet /.test(l)), 'no IPv4 address on the bridge')
  const g = await guest(t, host, net.bridge!, 'ks-v6', mac)
  const slaac = await waitFor(async () => (await g.run('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', '-tentative'])).match(/fd00:234::[0-9a-f:]+\/64/)?.[0], 15_000, 100)
  t.ok(slaac, `SLAAC address from the RA (${slaac})`)
  const route = await waitFor(async () => (await g.run('ip', ['-6', 'route', 'show', 'default'])).trim() || undefined, 15_000, 100)
  t.match(route, /default via fe80::/, 'the host advertises itself as router')
  const dir = mkdtempSync(join(tmpdir(), 'ks-dhclient6-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'script'), '#!/bin/sh\necho "$reason $new_ip6_address $new_max_life" >> "$(dirname "$0")/out"\n', { mode: 0o755 })
  const run = await g.try('dhclient', ['-6', '-1', '-D', 'LL', '-lf', join(dir, 'leases'), '-pf', join(dir, 'pid'), '-sf', join(dir, 'script'), 'eth0'], { timeout: 30_000 })
  t.teardown(async () => {
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => '0'))
    if (pid > 0) process.kill(pid, 'SIGKILL')
  })
  t.equal(run.exitCode, 0, `dhclient -6 got a lease (${run.stderr.trim().split('\n').pop()})`)
  t.match(await readFile(join(dir, 'out'), 'utf8').catch(() => ''), /BOUND6 fd00:234::42 7200/, "the reserved address, with the host's own lease time")
  t.equal(await dig(host, 'fd00:234::1', 'AAAA', 'six.v6.test'), 'fd00:234::42', 'the reservation resolves over IPv6')
  t.equal((await g.run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'])).trim(), '', 'the guest has no IPv4')
  await net.down()
})

t.test('IPv6-only nat without nat66 is routed: the outside reaches the guest by its own address; with nat66 it is masqueraded', async (t) => {
  const { host, inet } = await hostAndInternet(t)
  await host.ip(['addr add 2001:db8:7::1/64 dev uplink0 nodad', 'route add default via 2001:db8:7::2'].join('\n'))
  await inet.ip(['addr add 2001:db8:7::2/64 dev eth0 nodad', 'route add fd00:235::/64 via 2001:db8:7::1'].join('\n'))
  inet.spawn('socat', ['TCP6-LISTEN:7601,reuseaddr,fork', 'SYSTEM:echo peer $SOCAT_PEERADDR'])
  const net = createNetwork(validateSpec({ name: 'ksv6n', mode: 'nat', ipv6: { address: 'fd00:235::1/64' } }), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const g = await guest(t, host, net.bridge!, 'ks-v6n', '52:54:00:4b:07:01')
  const addr = await waitFor(async () => (await g.run('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', '-tentative'])).match(/fd00:235::[0-9a-f:]+(?=\/64)/)?.[0], 15_000, 100)
  await waitFor(async () => (await g.run('ip', ['-6', 'route', 'show', 'default'])).trim() || undefined, 15_000, 100)
  g.spawn('socat', ['TCP6-LISTEN:7602,reuseaddr,fork', 'SYSTEM:echo guest'])
  const out = await g.try('socat', ['-T', '3', '-', 'TCP6:[2001:db8:7::2]:7601,connect-timeout=3'], { input: '', timeout: 8000 })
  // socat writes the peer zero-padded: [fd00:0235:0000:…].
  const padded = (a: string) => ipaddr.IPv6.parse(a).parts.map((p) => p.toString(16).padStart(4, '0')).join(':')
  t.equal(out.stdout.trim(), `peer [${padded(addr)}]`, `the guest leaves with its own address ${addr} (routed, no NAT)`)
  const back = await waitFor(async () => (await inet.try('socat', ['-T', '3', '-', `TCP6:[${addr}]:7602,connect-timeout=3`], { input: '', timeout: 8000 })).stdout.trim() || undefined, 10_000, 200)
  t.equal(back, 'guest', 'the outside reaches the guest by its own address')
  await net.down()
  const masq = createNetwork(validateSpec({ name: 'ksv6n', mode: 'nat', ipv6: { address: 'fd00:235::1/64', nat66: true } }), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => masq.down().catch(() => undefined))
  await masq.up()
  // The bridge is a new one: attach the guest's cable to it again.
  await host.ip(`link set ks-v6n master ${masq.bridge!} up`)
  const out2 = await waitFor(async () => (await g.try('socat', ['-T', '3', '-', 'TCP6:[2001:db8:7::2]:7601,connect-timeout=3'], { input: '', timeout: 8000 })).stdout.trim() || undefined, 15_000, 200)
  t.equal(out2, `peer [${padded('2001:db8:7::1')}]`, 'with nat66 it leaves masqueraded behind the host')
  await masq.down()
})

t.test('an extra subnet already routed in the namespace is refused before anything is made, naming ipv4.extra', async (t) => {
  const host = await makeNs(t, 'ks')
  await host.ip(['link add ks-d0 type veth peer name ks-d1', 'addr add 10.236.5.1/24 dev ks-d0', 'link set ks-d0 up'].join('\n'))
  const net = createNetwork(
    validateSpec({ name: 'ksclash', mode: 'nat', ipv4: { address: '10.236.0.1/24', extra: [{ address: '10.236.5.1/24' }] } }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  const err = await net.up().then(() => undefined, (e: unknown) => e)
  t.equal(err instanceof Error && 'field' in err ? err.field : undefined, 'ipv4.extra', 'refused naming ipv4.extra')
  t.notMatch(await host.run('ip', ['-o', 'link']), /kvbr-ksclash/, 'no bridge left behind')
})
