/**
 * Dumps that keep only what the caller asked for (issue 21: every `up` decoded, or at least held, each of
 * a namespace's thousand links for a network's ten): listLinks by group or by a selection (anyOf), and
 * routes named by a few GETLINKs, by a dump restricted to their devices, or not named at all. Each answer
 * is compared with iproute2's on a real kernel.
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { links } from '../helpers/ip.js'
import { rtnlInNewNs } from '../helpers/rtnl.js'

const setup = (t: Test) => rtnlInNewNs(t, 'kvhr')

t.test('listLinks: group and anyOf select the same links as iproute2 shows, from 60 of them', async (t) => {
  const { ns, rtnl } = await setup(t)
  const lines: string[] = []
  for (let i = 0; i < 60; i++) {
    lines.push(`link add kd${i} type bridge`)
    if (i % 3 === 0) lines.push(`link set kd${i} group 7`)
    if (i % 5 === 0) lines.push(`link set kd${i} alias kvmnet:test:${i}`)
  }
  await ns.ip(lines.join('\n') + '\n')
  const ip = await links(ns)
  const names = (ls: { name?: string; ifname?: string }[]): string[] => ls.map((l) => l.name ?? l.ifname ?? '').sort()

  const inGroup = ip.filter((l) => l.group === '7')
  t.equal(inGroup.length, 20)
  t.same(names(await rtnl.listLinks({ group: 7 })), names(inGroup), 'group 7')

  const wantNames = new Set(['kd1', 'kd2', 'lo', 'nothere'])
  const wantAliases = new Set(['kvmnet:test:10', 'kvmnet:test:25', 'kvmnet:test:999'])
  const expected = ip.filter((l) => wantNames.has(l.ifname) || (l.ifalias !== undefined && wantAliases.has(l.ifalias)) || l.group === '7')
  const got = await rtnl.listLinks({ anyOf: { names: wantNames, aliases: wantAliases, group: 7 } })
  t.same(names(got), names(expected), 'names, aliases or group 7')
  t.equal(got.find((l) => l.name === 'kd25')?.alias, 'kvmnet:test:25', 'decoded as a whole')

  t.same(names(await rtnl.listLinks({ anyOf: { names: wantNames } })), ['kd1', 'kd2', 'lo'], 'names only')
  t.same(names(await rtnl.listLinks({ group: 7, anyOf: { names: new Set(['kd3', 'kd4']) } })), ['kd3'], 'with group: both must hold')
  t.same(await rtnl.listLinks({ anyOf: {} }), [], 'an empty selection selects nothing')
  t.equal((await rtnl.listLinks()).length, ip.length, 'no filter: every link')
})

t.test('listRoutes names devices: a few by request, many by a dump keeping their links only; or not at all', async (t) => {
  const { ns, rtnl } = await setup(t)
  const lines: string[] = []
  for (let i = 0; i < 24; i++) {
    lines.push(`link add kr${i} type bridge`, `link set kr${i} up`, `address add 10.77.${i}.1/24 dev kr${i}`)
  }
  // Ports that route nothing: a dump restricted to the routes' devices skips them.
  for (let i = 0; i < 40; i++) lines.push(`link add kp${i} type bridge`)
  lines.push('route add default via 10.77.3.254 dev kr3')
  await ns.ip(lines.join('\n') + '\n')
  const { stdout } = await execa('ip', ['-n', ns.name, '-j', 'route', 'show', 'table', 'main'])
  const ipRoutes = JSON.parse(stdout) as { dst: string; dev: string }[]
  t.equal(ipRoutes.length, 25)

  const routes = await rtnl.listRoutes({ family: 4 })
  t.same(routes.map((r) => `${r.dst} ${r.devName}`).sort(), ipRoutes.map((r) => `${r.dst} ${r.dev}`).sort(), 'more than 16 devices: named from a dump')

  const few = await rtnl.listRoutes({ family: 4, dev: 'kr5' })
  t.same(few.map((r) => `${r.dst} ${r.devName}`), ['10.77.5.0/24 kr5'], 'one device: named by a GETLINK')

  const unnamed = await rtnl.listRoutes({ family: 4, devNames: false })
  t.equal(unnamed.length, 25)
  t.ok(unnamed.every((r) => r.devName === undefined && r.dev !== undefined), 'devNames: false leaves them unnamed')

  t.match(await rtnl.defaultRoute(4), { dst: 'default', gateway: '10.77.3.254', devName: 'kr3' }, 'the default route is named')
})
