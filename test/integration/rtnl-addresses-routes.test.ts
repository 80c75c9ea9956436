/** Addresses and routes through Rtnl in throwaway namespaces, checked against iproute2. */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { NetlinkError, SpecError, isExists, isNotFound } from '../../src/errors.js'
import { Rtnl } from '../../src/rtnl/index.js'
import { type TestNs } from '../helpers/ns.js'
import { rtnlInNewNs } from '../helpers/rtnl.js'

async function setup(t: Test): Promise<{ ns: TestNs; rtnl: Rtnl }> {
  const { ns, rtnl } = await rtnlInNewNs(t, 'kvb')
  await ns.ip('link add kva0 type veth peer name kva1\nlink set kva0 up\nlink set kva1 up')
  return { ns, rtnl }
}

async function ipJson<T>(ns: TestNs, args: string[]): Promise<T> {
  const { stdout } = await execa('ip', ['-n', ns.name, '-j', ...args])
  return JSON.parse(stdout) as T
}

t.test('addresses: add, list, replace, delete (IPv4 and IPv6)', async (t) => {
  const { ns, rtnl } = await setup(t)
  await rtnl.addAddress('kva0', '192.0.2.1/24')
  await rtnl.addAddress('kva0', '2001:db8::1/64', { noDad: true })
  const idx = (await rtnl.getLink('kva0')).index
  await rtnl.addAddress(idx, '198.51.100.1/32', { noPrefixRoute: true })
  const mine = await rtnl.listAddresses('kva0')
  t.same(mine.filter((a) => a.scope === 0).map((a) => a.cidr).sort(), ['192.0.2.1/24', '198.51.100.1/32', '2001:db8::1/64'])
  t.ok(mine.every((a) => a.index === idx), 'kernel filtered by ifindex')
  const v6 = mine.find((a) => a.cidr === '2001:db8::1/64')!
  t.equal(v6.family, 6)
  t.ok(v6.flags & 0x02, 'IFA_F_NODAD')
  const ip = await ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>>(ns, ['addr', 'show', 'dev', 'kva0'])
  t.ok(ip[0]!.addr_info.some((a) => a.local === '192.0.2.1' && a.prefixlen === 24), 'iproute2 sees it')
  t.ok((await rtnl.listAddresses()).length >= 4, 'all links (lo has 127.0.0.1 and ::1)')

  const dup = await rtnl.addAddress('kva0', '192.0.2.1/24').catch((e: unknown) => e)
  t.ok(isExists(dup), 'add twice: EEXIST')
  t.equal((dup as NetlinkError).op, 'RTM_NEWADDR')
  await rtnl.replaceAddress('kva0', '192.0.2.1/24')
  await rtnl.replaceAddress('kva0', '192.0.2.2/24')
  t.equal((await rtnl.listAddresses('kva0')).filter((a) => a.family === 4).length, 3, 'replace adds when absent')

  await rtnl.deleteAddress('kva0', '192.0.2.2/24')
  await rtnl.deleteAddress('kva0', '2001:db8::1/64')
  const gone = await rtnl.deleteAddress('kva0', '2001:db8::1/64').catch((e: unknown) => e)
  t.ok(isNotFound(gone), 'deleting an absent address is NotFound')
  t.same((await rtnl.listAddresses('kva0')).filter((a) => a.scope === 0).map((a) => a.cidr).sort(), ['192.0.2.1/24', '198.51.100.1/32'])

  const bad = await rtnl.addAddress('kva0', '192.0.2.300/24').catch((e: unknown) => e)
  t.type(bad, SpecError)
  t.equal((bad as SpecError).field, 'cidr')
  const noLink = await rtnl.addAddress('kvnothere', '192.0.2.9/24').catch((e: unknown) => e)
  t.type(noLink, SpecError)
  t.equal((noLink as SpecError).field, 'link')
})

t.test('routes: default route, replace, non-main table, delete, list', async (t) => {
  const { ns, rtnl } = await setup(t)
  await rtnl.addAddress('kva0', '192.0.2.1/24')
  await rtnl.addAddress('kva0', '2001:db8::1/64', { noDad: true })
  await rtnl.addRoute({ dst: 'default', gateway: '192.0.2.254' })
  const main = await rtnl.listRoutes({ family: 4 })
  const def = main.find((r) => r.dst === 'default')!
  t.match(def, { gateway: '192.0.2.254', devName: 'kva0', table: 254, protocol: 3, type: 'unicast', family: 4 })
  t.ok(main.some((r) => r.dst === '192.0.2.0/24' && r.protocol === 2 && r.prefsrc === '192.0.2.1'), 'kernel prefix route')
  const ipDef = await ipJson<Array<{ dst: string; gateway?: string }>>(ns, ['route', 'show', 'default'])
  t.equal(ipDef[0]?.gateway, '192.0.2.254', 'iproute2 sees the default route')

  const dup = await rtnl.addRoute({ dst: 'default', gateway: '192.0.2.254' }).catch((e: unknown) => e)
  t.ok(isExists(dup), 'add twice: EEXIST')
  await rtnl.replaceRoute({ dst: 'default', gateway: '192.0.2.253', metric: 0 })
  t.equal((await rtnl.listRoutes({ family: 4 })).find((r) => r.dst === 'default')?.gateway, '192.0.2.253', 'replaced')

  await rtnl.addRoute({ dst: '198.51.100.0/24', dev: 'kva0', table: 1000, metric: 5 })
  await rtnl.addRoute({ dst: '203.0.113.0/24', gateway: '192.0.2.7', table: 100 })
  await rtnl.addRoute({ dst: 'default', gateway: '2001:db8::fe', table: 1000 })
  await rtnl.addRoute({ dst: '10.99.0.0/16', type: 'blackhole', table: 1000 })
  const t1000 = await rtnl.listRoutes({ table: 1000 })
  t.same(t1000.map((r) => r.dst).sort(), ['10.99.0.0/16', '198.51.100.0/24', 'default'])
  t.ok(t1000.every((r) => r.table === 1000))
  t.match(t1000.find((r) => r.dst === '198.51.100.0/24'), { metric: 5, scope: 253, devName: 'kva0' })
  t.match(t1000.find((r) => r.dst === '10.99.0.0/16'), { type: 'blackhole' })
  t.same((await rtnl.listRoutes({ table: 100 })).map((r) => r.dst), ['203.0.113.0/24'])
  const ipT = await ipJson<Array<{ dst: string }>>(ns, ['route', 'show', 'table', '1000'])
  t.ok(ipT.some((r) => r.dst === '198.51.100.0/24'), 'iproute2 sees the table-1000 route')
  t.same(await rtnl.listRoutes({ table: 4000 }), [], 'a table that never existed is empty')
  t.ok((await rtnl.listRoutes({ table: 0 })).some((r) => r.table === 255), 'table 0 lists every table, local included')
  t.ok((await rtnl.listRoutes({ dev: 'kva0' })).every((r) => r.devName === 'kva0'), 'dev filter')

  await rtnl.deleteRoute({ dst: '198.51.100.0/24', table: 1000 })
  await rtnl.deleteRoute({ dst: 'default', family: 6, table: 1000 })
  await rtnl.deleteRoute({ dst: 'default' })
  const gone = await rtnl.deleteRoute({ dst: 'default' }).catch((e: unknown) => e)
  t.ok(isNotFound(gone), 'deleting an absent route is NotFound (ESRCH)')
  t.equal((gone as NetlinkError).op, 'RTM_DELROUTE')
  t.same((await rtnl.listRoutes({ table: 1000 })).map((r) => r.dst), ['10.99.0.0/16'])

  const noDev = await rtnl.addRoute({ dst: '203.0.113.0/24', dev: 'kvnothere' }).catch((e: unknown) => e)
  t.type(noDev, SpecError)
  t.equal((noDev as SpecError).field, 'dev')
  const host = await rtnl.addRoute({ dst: '203.0.113.5/24', dev: 'kva0' }).catch((e: unknown) => e)
  t.equal((host as SpecError).field, 'dst')
  const unreachableGw = await rtnl.addRoute({ dst: '203.0.113.0/24', gateway: '198.18.0.1' }).catch((e: unknown) => e)
  t.type(unreachableGw, NetlinkError, 'the kernel refuses a gateway that is not on-link')
  t.equal((unreachableGw as NetlinkError).code, 'ENETUNREACH')
})
