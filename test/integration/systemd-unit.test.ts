/**
 * `kvmnet enable` / `disable` under a scratch --root: the unit they write passes `systemd-analyze verify`
 * with no warning, its ExecStart line run as systemd would run it (spec path and %i substituted) brings the
 * network up in a throwaway namespace and takes it down on SIGTERM, and `disable` removes exactly what
 * `enable` wrote. Runs the built CLI (dist/cli.js): a unit must name a script plain Node can run.
 */
import t from 'tap'
import { execa } from 'execa'
import { existsSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync, mkdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs, waitFor } from '../helpers/ns.js'
import { assertNothingLeft } from '../helpers/leftovers.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const cliJs = join(repo, 'dist/cli.js')
const cli = (args: string[]) => execa('node', [cliJs, ...args], { reject: false })

t.before(() => {
  if (!existsSync(cliJs)) throw new Error('dist/cli.js is missing: run npm run build first')
})

/** ExecStart's words, with systemd's quoting undone for the simple forms kvmnet writes. */
function execStartOf(unit: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart='))
  if (!line) throw new Error('no ExecStart in the unit')
  return [...line.slice('ExecStart='.length).matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? '')))
}

t.test('enable writes a unit systemd accepts; its ExecStart runs the network; disable removes it', async (t) => {
  const ns = await makeNs(t, 'kvsd')
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-systemd-'))
  const root = join(dir, 'root')
  const stateRoot = join(dir, 'state')
  t.teardown(async () => {
    await cli(['down', 'sdnet', '--netns', ns.path, '--state-root', stateRoot])
    await cli(['gc', '--state-root', stateRoot])
    await rm(dir, { recursive: true, force: true })
  })
  const spec = {
    name: 'sdnet',
    mode: 'nat',
    ipv4: { address: '10.77.0.1/24', dhcp: { range: ['10.77.0.100', '10.77.0.150'] } },
    ports: [{ name: 'sdvm0' }],
  }
  const specPath = join(dir, 'spec.json')
  writeFileSync(specPath, JSON.stringify(spec))

  const en = await cli(['enable', specPath, '--root', root, '--netns', ns.path, '--state-root', stateRoot])
  t.equal(en.exitCode, 0, en.stderr)
  t.match(en.stdout, /kvmnet@sdnet\.service enabled/)
  const unitDir = join(root, 'etc/systemd/system')
  const template = join(unitDir, 'kvmnet@.service')
  t.ok(existsSync(template), 'the template unit is written')
  t.equal(readlinkSync(join(unitDir, 'multi-user.target.wants/kvmnet@sdnet.service')), '/etc/systemd/system/kvmnet@.service', 'enabled like systemctl enable does')
  t.same(JSON.parse(readFileSync(join(root, 'etc/kvmnet/sdnet.json'), 'utf8')).name, 'sdnet', 'the spec is copied')

  const unit = readFileSync(template, 'utf8')
  t.match(unit, /^Restart=on-failure$/m)
  t.match(unit, /^After=.*nftables\.service.*firewalld\.service/m)
  t.match(unit, /^Before=network-online\.target$/m)
  t.match(unit, /^StandardOutput=journal$/m)
  const verify = await execa('systemd-analyze', ['verify', join(unitDir, 'kvmnet@sdnet.service')], { reject: false })
  t.equal(verify.exitCode, 0, 'systemd-analyze verify exits 0')
  t.equal(verify.stderr.trim(), '', `systemd-analyze verify has no warning: ${verify.stderr}`)

  // Run ExecStart as systemd would for instance sdnet: %i is the instance, /etc/kvmnet is under --root here.
  const words = execStartOf(unit).map((w) => w.replace(/%i/g, 'sdnet').replace(/^\/etc\/kvmnet\//, `${root}/etc/kvmnet/`))
  t.equal(words[0], process.execPath, 'ExecStart names the Node that ran enable')
  t.same(words.slice(2, 4), ['up', '--foreground'])
  const proc = execa(words[0] ?? 'node', words.slice(1), { reject: false })
  t.teardown(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL')
  })
  await waitFor(async () => (await ns.run('ip', ['-j', 'link', 'show', 'kvbr-sdnet']).catch(() => '')).includes('kvbr-sdnet') && (await ns.run('nft', ['list', 'tables'])).includes('kvmnet_sdnet'), 15000, 50)
  t.pass('the network is up under the unit\'s command')
  // ExecReload as systemd runs it ($MAINPID is the ExecStart process) after the spec copy was edited.
  const reload = unit.split('\n').find((l) => l.startsWith('ExecReload='))
  t.equal(reload, 'ExecReload=/bin/kill -HUP $MAINPID', 'systemctl reload sends SIGHUP to kvmnet')
  writeFileSync(join(root, 'etc/kvmnet/sdnet.json'), JSON.stringify({ ...spec, ports: [{ name: 'sdvm0' }, { name: 'sdvm1' }] }))
  const [cmd, ...args] = (reload ?? '').slice('ExecReload='.length).replace('$MAINPID', String(proc.pid)).split(' ')
  await execa(cmd ?? '/bin/kill', args)
  await waitFor(async () => (await ns.run('ip', ['-j', 'link', 'show', 'sdvm1']).catch(() => '')).includes('sdvm1'), 15000, 50)
  t.pass('the reload converged the running network to the edited spec')
  proc.kill('SIGTERM')
  const r = await proc
  t.equal(r.exitCode, 0, `exits 0 on SIGTERM: ${r.stderr}`)
  await assertNothingLeft(t, ns, 'sdnet', stateRoot)

  const dis = await cli(['disable', 'sdnet', '--root', root])
  t.equal(dis.exitCode, 0, dis.stderr)
  t.notOk(existsSync(join(unitDir, 'multi-user.target.wants/kvmnet@sdnet.service')), 'the instance is disabled')
  t.notOk(existsSync(join(root, 'etc/kvmnet/sdnet.json')), 'the spec copy is removed')
  t.notOk(existsSync(template), 'the template goes with the last network')
  const again = await cli(['disable', 'sdnet', '--root', root])
  t.equal(again.exitCode, 0, 'disable of a network without a unit is not an error')
  t.match(again.stdout, /nothing to do/)
})

t.test('enable refuses bad input and a foreign template, touching nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-systemd-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const root = join(dir, 'root')
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, JSON.stringify({ name: 'x', mode: 'natt' }))
  const r = await cli(['enable', bad, '--root', root, '--json'])
  t.equal(r.exitCode, 2)
  t.match(JSON.parse(r.stderr).error, { field: 'mode' })
  t.notOk(existsSync(root), 'nothing was written')

  const good = join(dir, 'good.json')
  writeFileSync(good, JSON.stringify({ name: 'two', mode: 'very-isolated' }))
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true })
  writeFileSync(join(root, 'etc/systemd/system/kvmnet@.service'), '[Service]\nExecStart=/bin/true\n')
  const foreign = await cli(['enable', good, '--root', root])
  t.equal(foreign.exitCode, 2)
  t.match(foreign.stderr, /not written by kvmnet/)
  t.equal(readFileSync(join(root, 'etc/systemd/system/kvmnet@.service'), 'utf8'), '[Service]\nExecStart=/bin/true\n', 'the foreign unit is untouched')
  t.notOk(existsSync(join(root, 'etc/kvmnet/two.json')), 'no spec copied')

  const name = await cli(['disable', '../etc', '--root', root])
  t.equal(name.exitCode, 2, 'a name that is not a network name is refused')
})

t.test("--state-root and --netns reach ExecStart as one word each: a newline is refused, a '%' stays a '%'", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-systemd-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const good = join(dir, 'good.json')
  writeFileSync(good, JSON.stringify({ name: 'kisd', mode: 'very-isolated' }))
  // A newline would start a directive of its own (ExecStartPre= runs as root before kvmnet).
  for (const [option, value] of [
    ['--state-root', `${dir}/st\nExecStartPre=/bin/touch ${dir}/pwned`],
    ['--netns', `/run/netns/x\nExecStartPre=/bin/touch ${dir}/pwned`],
    ['--state-root', `${dir}/st\rb`],
  ] as const) {
    const root = join(dir, `root-${option.slice(2)}`)
    const r = await cli(['enable', good, '--root', root, option, value, '--json'])
    t.equal(r.exitCode, 2, `${JSON.stringify(value)}: exit 2 (${r.stderr})`)
    t.match(JSON.parse(r.stderr || '{}').error, { name: 'SpecError', field: option }, `the error names ${option}`)
    t.notOk(existsSync(root), 'nothing was written')
  }
  // '%' is a specifier in a unit file: %h would become root's home, %Q is refused by systemd.
  const root = join(dir, 'root-pct')
  const stateRoot = join(dir, 'a%hb%Q "c"')
  const en = await cli(['enable', good, '--root', root, '--state-root', stateRoot])
  t.equal(en.exitCode, 0, en.stderr)
  const unitDir = join(root, 'etc/systemd/system')
  const unit = readFileSync(join(unitDir, 'kvmnet@.service'), 'utf8')
  t.same(unit.split('\n').filter((l) => /^Exec/.test(l)).map((l) => l.split('=')[0]), ['ExecStart', 'ExecReload'], 'the Exec lines are ExecStart and ExecReload alone')
  const verify = await execa('systemd-analyze', ['verify', join(unitDir, 'kvmnet@kisd.service')], { reject: false })
  t.equal(verify.exitCode, 0, `systemd-analyze verify exits 0: ${verify.stderr}`)
  t.equal(verify.stderr.trim(), '', 'and has no warning')
  const words = execStartOf(unit)
  t.equal(words[words.indexOf('--state-root') + 1]?.replace(/%%/g, '%'), stateRoot, 'the state root, once systemd undoes its escapes')
})
