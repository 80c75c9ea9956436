/**
 * doctor reads listening sockets from the kernel's socket diagnostics (sock_diag) and their owners from
 * /proc, and rp_filter's routes with RTM_GETROUTE: compared here with `ss -Hlnp` and `ip route get`, the
 * programs it used to run in the namespace, on sockets of every shape a host has (bound to a device, to an
 * address, IPv4 and IPv6 wildcards, v6-only or dual-stack, UDP and TCP, a socket shared by two processes).
 */
import t from 'tap'
import { listeners, type Listener } from '../../src/doctor/listeners.js'
import { NetlinkError } from '../../src/errors.js'
import { Netns } from '../../src/netns/index.js'
import { Rtnl } from '../../src/rtnl/index.js'
import { makeNs, waitFor } from '../helpers/ns.js'
import { parseListener } from '../helpers/ss.js'

const key = (l: Listener): string => `${l.proto} ${l.addr}${l.device ? `%${l.device}` : ''}:${l.port} ${l.comm ?? '-'}/${l.pid ?? '-'}`

t.test('listening sockets: the same as ss -Hlnp shows, owners included', async (t) => {
  const ns = await makeNs(t, 'kvsd')
  await ns.ip(['link add sd0 type veth peer name sd0p', 'link set sd0p up', 'link set sd0 up', 'addr add 198.51.100.1/24 dev sd0', 'addr add 2001:db8:5::1/64 dev sd0 nodad'].join('\n'))
  const socat = (args: string[]) => ns.spawn('socat', args)
  const procs = [
    socat(['UDP4-RECVFROM:67,so-bindtodevice=sd0,fork', 'SYSTEM:true']),
    socat(['UDP4-RECVFROM:53,bind=198.51.100.1,fork', 'SYSTEM:true']),
    socat(['TCP4-LISTEN:53,bind=198.51.100.1,reuseaddr,fork', 'SYSTEM:true']),
    socat(['UDP6-RECVFROM:547,ipv6only=1,fork', 'SYSTEM:true']),
    socat(['TCP6-LISTEN:8080,ipv6only=0,reuseaddr,fork', 'SYSTEM:true']),
    socat(['TCP6-LISTEN:8443,bind=[2001:db8:5::1],reuseaddr,fork', 'SYSTEM:true']),
  ]
  for (const p of procs) p.catch(() => undefined)
  const ss = async (): Promise<Listener[]> => {
    const out: Listener[] = []
    for (const [proto, flag] of [['udp', '-Hlnup'], ['tcp', '-Hlntp']] as const) {
      for (const line of (await ns.run('ss', [flag])).split('\n')) {
        const l = parseListener(line, proto)
        if (l) out.push(l)
      }
    }
    return out
  }
  await waitFor(async () => (await ss()).length >= procs.length, 5000)
  const netns = Netns.open(ns.path)
  const rtnl = Rtnl.open(netns)
  t.teardown(() => rtnl.close())
  const mine = (await listeners(netns, rtnl)).map(key).sort()
  const oracle = (await ss()).map(key).sort()
  t.same(mine, oracle, `the same ${oracle.length} sockets as ss`)
  t.ok(mine.some((k) => k.startsWith('udp 0.0.0.0%sd0:67 socat/')), 'a device-bound socket names its device and owner')
  t.ok(mine.some((k) => k.startsWith('tcp *:8080 ')), 'a dual-stack wildcard is *')
  t.ok(mine.some((k) => k.startsWith('udp :::547 ')), 'a v6-only wildcard is ::')
})

t.test('route get: the same device as ip route get, and the kernel refusing a reverse path', async (t) => {
  const ns = await makeNs(t, 'kvsd')
  await ns.ip(
    ['link add sd0 type veth peer name sd0p', 'link set sd0p up', 'link set sd0 up', 'addr add 198.51.100.1/24 dev sd0', 'link add sd1 type veth peer name sd1p', 'link set sd1p up', 'link set sd1 up', 'addr add 203.0.113.1/24 dev sd1', 'route add 192.0.2.0/24 dev sd1'].join('\n'),
  )
  const rtnl = Rtnl.open(Netns.open(ns.path))
  t.teardown(() => rtnl.close())
  const ip = async (args: string[]): Promise<string | undefined> => {
    const r = await ns.try('ip', ['-j', 'route', 'get', ...args])
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as { dev?: string }[])[0]?.dev : undefined
  }
  t.equal((await rtnl.routeGet({ dst: '192.0.2.7' })).devName, await ip(['192.0.2.7']), 'output lookup: sd1 both ways')
  t.equal((await rtnl.routeGet({ dst: '198.51.100.9' })).devName, 'sd0')
  // A packet from 192.0.2.7 arriving on sd0, whose route back leaves by sd1: strict rp_filter refuses it.
  await ns.run('sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.sd0.rp_filter=1', 'net.ipv4.ip_forward=1'])
  t.equal(await ip(['198.51.100.9', 'from', '192.0.2.7', 'iif', 'sd0']), undefined, 'ip route get: refused')
  const err = await rtnl.routeGet({ dst: '203.0.113.9', src: '192.0.2.7', iif: 'sd0' }).catch((e: unknown) => e)
  // The kernel treats it as a martian source: EINVAL, as `ip route get` prints it.
  t.ok(err instanceof NetlinkError && err.code === 'EINVAL', `refused by rp_filter: ${String(err)}`)
  const ok = await rtnl.routeGet({ dst: '203.0.113.9', src: '192.0.2.7', iif: 'sd1' })
  t.equal(ok.devName, await ip(['203.0.113.9', 'from', '192.0.2.7', 'iif', 'sd1']), 'from the right side: routed, as ip route get says')
})
