/**
 * `kvmnet up` of many ports turns V8's optimizing compiler off for its short life (cli/commands/up.ts), a
 * flag the command's code cache is checked against: the cache it writes at exit must still be the one the
 * next command takes back (written under --no-opt, every later start rejected it and compiled the bundle
 * anew, then wrote it again). Run on a copy of the built package, whose dist/ and caches this test owns.
 */
import t from 'tap'
import { execa } from 'execa'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs } from '../helpers/ns.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(join(root, 'dist/cli-bundle.cjs'))
// env -i: tap's process tracking rides along in the NODE_OPTIONS of every child it sees start.
const PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'

t.test('a 100-port up leaves a code cache that the next up and a one-port up take back', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-many-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  for (const f of readdirSync(join(dir, 'dist'))) if (/^cli-bundle\.cjs\..+\.v8-cache$/.test(f)) rmSync(join(dir, 'dist', f))
  cpSync(join(root, 'package.json'), join(dir, 'package.json'))
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  symlinkSync(join(root, 'prebuilds'), join(dir, 'prebuilds'))
  const host = await makeNs(t, 'kvmp')
  const stateRoot = join(dir, 'state')
  const many = join(dir, 'many.json')
  writeFileSync(many, JSON.stringify({ name: 'kvmpmany', mode: 'very-isolated', bridge: 'kvmp-br', ports: Array.from({ length: 100 }, (_, i) => ({ name: `kvmp${i}` })) }))
  const one = join(dir, 'one.json')
  writeFileSync(one, JSON.stringify({ name: 'kvmpmany', mode: 'very-isolated', bridge: 'kvmp-br', ports: [{ name: 'kvmp0' }] }))
  const cache = join(dir, 'dist/cli-bundle.cjs.up.v8-cache')
  const kvmnet = (...args: string[]) => execa('env', ['-i', `PATH=${PATH}`, 'node', join(dir, 'dist/cli.cjs'), ...args, '--netns', host.path, '--state-root', stateRoot])
  t.teardown(() => kvmnet('down', 'kvmpmany').catch(() => undefined))
  const first = await kvmnet('up', many)
  t.match(first.stdout, /kvmpmany: up in/)
  t.equal(first.stderr, '')
  t.ok(existsSync(cache), 'written by the first up')
  const written = statSync(cache).ino
  await kvmnet('down', 'kvmpmany')
  t.match((await kvmnet('up', many)).stdout, /kvmpmany: up in/)
  t.equal(statSync(cache).ino, written, 'taken back by the next 100-port up, not rewritten')
  await kvmnet('down', 'kvmpmany')
  t.match((await kvmnet('up', one)).stdout, /kvmpmany: up in/)
  t.equal(statSync(cache).ino, written, 'taken back by a one-port up')
  t.equal((await host.run('ip', ['-o', 'link', 'show', 'master', 'kvmp-br'])).trim().split('\n').length, 1, 'the one port')
})
