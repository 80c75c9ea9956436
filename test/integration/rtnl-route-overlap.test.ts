/**
 * listRoutes({ overlapping }) on a real kernel (issue 21: a subnet check decoded every other network's
 * route on every `up`): the routes it returns are exactly those of the whole table whose destination
 * overlaps one of the prefixes, IPv4 and IPv6, the default route included.
 */
import t from 'tap'
import { ipaddr } from '../../src/util/index.js'
import { rtnlInNewNs } from '../helpers/rtnl.js'

function overlaps(r: { family: 4 | 6; dst: string }, cidr: string): boolean {
  const [net, len] = ipaddr.parseCIDR(cidr)
  const [other, olen] = r.dst === 'default' ? [r.family === 4 ? ipaddr.parse('0.0.0.0') : ipaddr.parse('::'), 0] : ipaddr.parseCIDR(r.dst)
  return other.kind() === net.kind() && net.match(other, Math.min(len, olen))
}

t.test('overlapping: the same routes as the whole table filtered by overlap', async (t) => {
  const { ns, rtnl } = await rtnlInNewNs(t, 'k10m')
  const lines: string[] = []
  for (let i = 0; i < 30; i++) lines.push(`link add ko${i} type bridge`, `link set ko${i} up`, `address add 10.88.${i}.1/24 dev ko${i}`, `address add fd00:88:${i}::1/64 dev ko${i}`)
  lines.push('route add 10.88.0.0/16 dev ko1 metric 50', 'route add 10.0.0.0/8 dev ko2 metric 60', 'route add default via 10.88.3.254 dev ko3', 'route add 10.88.5.128/25 dev ko4')
  await ns.ip(lines.join('\n') + '\n')
  // Both families in one dump, then each family's own: the kernel's family filter and the prefix filter together.
  const all = await rtnl.listRoutes({ devNames: false })
  t.ok(all.filter((r) => r.family === 4).length >= 34 && all.some((r) => r.family === 6), `${all.length} routes`)
  for (const want of [['10.88.5.0/24'], ['10.88.200.0/24'], ['192.0.2.0/24'], ['10.88.5.0/24', 'fd00:88:7::/64'], ['fd00:88::/48']]) {
    for (const family of [4, 6] as const) {
      const got = await rtnl.listRoutes({ family, devNames: false, overlapping: want })
      const whole = all.filter((r) => r.family === family && want.some((w) => overlaps(r, w)))
      const key = (r: { dst: string; dev?: number | undefined; metric?: number | undefined }) => `${r.dst} ${r.dev} ${r.metric}`
      t.same(got.map(key).sort(), whole.map(key).sort(), `IPv${family} against ${want.join(', ')}: ${whole.length} routes`)
    }
  }
  t.ok((await rtnl.listRoutes({ family: 4, devNames: false, overlapping: ['192.0.2.0/24'] })).every((r) => r.dst === 'default'), 'an unrelated prefix: only the default route')
  const mixed = await rtnl.listRoutes({ devNames: false, overlapping: ['10.88.5.0/24', 'fd00:88:7::/64'] })
  t.same(mixed.map((r) => r.dst).sort(), all.filter((r) => overlaps(r, '10.88.5.0/24') || overlaps(r, 'fd00:88:7::/64')).map((r) => r.dst).sort(), 'both families in one dump')
})
