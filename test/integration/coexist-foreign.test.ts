/**
 * A foreign nftables table that drops by policy (`table inet filter`, forward policy drop), owned by none of
 * the firewalls kvmnet coexists with: never modified; `up` warns (the Network's 'warning' event, a line on
 * the CLI's stderr); doctor names it and exits 1. And a failure after the coexist step rolls its rules back.
 */
import t from 'tap'
import { execa } from 'execa'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, doctor, validateSpec, type NetworkWarning } from '../../src/index.js'
import { dockerLayout, hostWithOutside, iptablesSave } from '../helpers/coexist.js'

const P = 'kvco'
const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = (args: string[]) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, reject: false })

const spec = (n: number) => ({ name: `cf${n}`, mode: 'nat', ipv4: { address: `10.233.${n}.1/24`, dhcp: { range: [`10.233.${n}.100`, `10.233.${n}.150`] } } })
const FOREIGN = 'add table inet filter; add chain inet filter forward { type filter hook forward priority 0; policy drop; }; add rule inet filter forward ct state established accept'

t.test("a foreign 'inet filter' table dropping forward: left as it is, up warns, doctor names it (exit 1)", async (t) => {
  const { host } = await hostWithOutside(t, P)
  const stateRoot = `/run/kvmnet-test/${host.name}`
  await host.run('nft', [FOREIGN])
  const before = await host.run('nft', ['list', 'table', 'inet', 'filter'])
  const net = createNetwork(validateSpec(spec(1)), { netns: host.name, stateRoot })
  const warnings: NetworkWarning[] = []
  net.on('warning', (w) => warnings.push(w))
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const w = warnings.find((x) => x.code === 'nft-foreign-drop')
  t.ok(w, JSON.stringify(warnings))
  t.match(w?.object, /^inet filter forward \(hook forward, policy drop\)$/, 'the warning names the table and chain')
  t.equal(w?.network, 'cf1')
  t.equal(await host.run('nft', ['list', 'table', 'inet', 'filter']), before, 'the foreign table is untouched')

  const r = await doctor({ netns: host.name, stateRoot, network: 'cf1' })
  t.ok(r.findings.some((f) => f.code === 'nft-foreign-drop' && f.severity === 'error' && /inet filter forward/.test(f.object)))
  const c = await cli(['doctor', 'cf1', '--netns', host.name, '--state-root', stateRoot])
  t.equal(c.exitCode, 1, 'kvmnet doctor exits 1')
  t.match(c.stdout, /nft-foreign-drop\s+error\s+cf1|nft-foreign-drop\s+error\s+-\s+inet filter forward/)
  t.match(c.stdout, /inet filter forward/)
  await net.down()
  t.equal(await host.run('nft', ['list', 'table', 'inet', 'filter']), before, 'still untouched after down')
})

t.test('kvmnet up prints the warning on stderr', async (t) => {
  const { host } = await hostWithOutside(t, P)
  const stateRoot = `/run/kvmnet-test/${host.name}`
  await host.run('nft', [FOREIGN])
  const file = join(`/run/kvmnet-test`, `${host.name}.json`)
  writeFileSync(file, JSON.stringify(spec(2)))
  t.teardown(() => execa('rm', ['-f', file]))
  t.teardown(() => cli(['down', 'cf2', '--netns', host.name, '--state-root', stateRoot]))
  const up = await cli(['up', file, '--netns', host.name, '--state-root', stateRoot])
  t.equal(up.exitCode, 0, up.stderr)
  t.match(up.stderr, /^kvmnet: warning: cf2: .*\[nft-foreign-drop: inet filter forward \(hook forward, policy drop\)\]; fix: /m)
  t.equal((await cli(['down', 'cf2', '--netns', host.name, '--state-root', stateRoot])).exitCode, 0)
})

t.test("a failure after the coexist step rolls kvmnet's DOCKER-USER rules back", async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  const before = await iptablesSave(host)
  const net = createNetwork(validateSpec(spec(3)), {
    netns: host.name,
    stateRoot: `/run/kvmnet-test/${host.name}`,
    faultInjector: (step) => {
      if (step === 'state') throw new Error('injected')
    },
  })
  t.teardown(() => net.down().catch(() => undefined))
  await t.rejects(net.up(), /injected/)
  t.equal(await iptablesSave(host), before, 'iptables-save as before the failed up')
})

t.test('coexistence turned off by a converge removes what it added; on again adds it back', async (t) => {
  const { host } = await hostWithOutside(t, P)
  await dockerLayout(host)
  const before = await iptablesSave(host)
  const net = createNetwork(validateSpec(spec(4)), { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}` })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  t.match(await host.run('iptables-nft', ['-S', 'DOCKER-USER']), /kvmnet:cf4/)
  const off = await net.up(validateSpec({ ...spec(4), firewall: { coexist: false } }))
  t.ok(off.steps.some((s) => s.step === 'coexist' && s.outcome === 'removed'))
  t.equal(await iptablesSave(host), before, 'off: DOCKER-USER as before')
  await net.up(validateSpec(spec(4)))
  t.match(await host.run('iptables-nft', ['-S', 'DOCKER-USER']), /kvmnet:cf4/, 'on again')
  await net.down()
  t.equal(await iptablesSave(host), before)
})
