/**
 * A guest impersonating another: guest B takes guest A's reserved address and announces it with a
 * gratuitous ARP, to receive A's port-forward traffic. Without filtering it works (the reproduction);
 * with filtering on, B's claims are dropped at its port while normal traffic (DHCP, ping, the forward
 * to A) is intact.
 */
import t, { type Test } from 'tap'
import { createNetwork, validateSpec } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { dhcp, hostWithInternet, ping, tcpGet, tcpServer } from '../helpers/guest.js'

const A = { mac: '52:54:00:5a:00:0a', ip: '10.221.0.10' }
const B = { mac: '52:54:00:5a:00:0b', ip: '10.221.0.11' }

/** A guest namespace on the port named `port` of the bridge (a veth standing in for QEMU's tap). */
async function guestOnPort(t: Test, host: TestNs, bridge: string, port: string, mac: string): Promise<TestNs> {
  const g = await makeNs(t, 'kvp')
  await host.ip([`link del ${port}`, `link add ${port} type veth peer name eth0 netns ${g.name} address ${mac}`, `link set ${port} master ${bridge} up`].join('\n'))
  await g.ip('link set eth0 up')
  return g
}

async function scene(t: Test, filtering: boolean) {
  const { host, inet } = await hostWithInternet(t, '10.221.0.0/24')
  const net = createNetwork(
    validateSpec({
      name: 'spoof',
      mode: 'nat',
      filtering,
      ipv4: { address: '10.221.0.1/24', dhcp: { range: ['10.221.0.100', '10.221.0.150'], hosts: [{ ...A, name: 'a' }, { ...B, name: 'b' }] } },
      forwards: [{ proto: 'tcp', hostPort: 8080, guest: A.ip, guestPort: 80 }],
      ports: [{ name: 'sp-a', mac: A.mac }, { name: 'sp-b', mac: B.mac }],
    }),
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` },
  )
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const a = await guestOnPort(t, host, net.bridge!, 'sp-a', A.mac)
  const b = await guestOnPort(t, host, net.bridge!, 'sp-b', B.mac)
  t.equal((await dhcp(a))?.ip, A.ip, 'A leases its reservation')
  t.equal((await dhcp(b))?.ip, B.ip, 'B leases its reservation')
  tcpServer(a, 80, 'A')
  tcpServer(b, 80, 'B')
  await waitFor(async () => (await a.run('ss', ['-Hltn', 'sport = :80'])).trim() !== '' && (await b.run('ss', ['-Hltn', 'sport = :80'])).trim() !== '')
  t.match(await tcpGet(inet, '203.0.113.1', 8080), /^A /, 'the forward reaches A')
  t.ok(await ping(b, '10.221.0.1'), 'B reaches the host')
  // The attack: A goes quiet (reboots), B takes its address and announces it.
  await a.ip('link set eth0 down')
  await b.ip(`addr add ${A.ip}/32 dev eth0`)
  await b.try('busybox', ['arping', '-U', '-c', '3', '-w', '1', '-I', 'eth0', A.ip])
  return { host, inet, a, b }
}

t.test('without filtering, B takes over A\'s forward (the reproduction)', async (t) => {
  const { inet } = await scene(t, false)
  t.match(await tcpGet(inet, '203.0.113.1', 8080), /^B /, "A's forwarded traffic reaches B")
})

t.test("with filtering, B's claim is dropped and A's traffic never reaches B", async (t) => {
  const { host, inet, a } = await scene(t, true)
  const got = await tcpGet(inet, '203.0.113.1', 8080)
  t.notMatch(got ?? '', /^B /, `B does not receive A's traffic (${got ?? 'no answer'})`)
  const neigh = await host.run('ip', ['-j', 'neigh', 'show', A.ip])
  t.notMatch(neigh, new RegExp(B.mac), "the host never learnt B's MAC for A's address")
  // A comes back (its default route went with its link).
  await a.ip('link set eth0 up\nroute replace default via 10.221.0.1')
  await waitFor(async () => /^A /.test((await tcpGet(inet, '203.0.113.1', 8080)) ?? ''), 10_000, 200)
  t.pass('once A is back, the forward reaches A again')
})
