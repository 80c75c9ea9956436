/**
 * The commands' bundles are loaded with V8's code cache (src/util/compile-cache.ts): written beside the
 * bundle when the process exits, taken back by the next start, and never trusted blindly — a corrupt or
 * stale one is compiled past and replaced, one others could write (or a symbolic link) is not loaded, a
 * directory that cannot be written leaves the command working without one. Each case runs a fresh Node
 * process on a small bundle in a scratch directory; the last ones run the built CLI itself.
 */
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readableCopy } from '../helpers/readable-copy.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const loader = join(root, 'src/util/compile-cache.ts')

// A bundle the way tsup writes one: CommonJS, module.exports set, a module loaded lazily with require.
const BUNDLE = `"use strict";
const path = require("node:path");
function work(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s }
module.exports = { sum: work(100), base: path.basename(__filename), dir: __dirname, later: () => Promise.resolve().then(() => typeof require("node:os").tmpdir) };
`

function scratch(t: Test): { dir: string; bundle: string; cache: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kvc-cc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bundle = join(dir, 'x-bundle.cjs')
  writeFileSync(bundle, BUNDLE)
  return { dir, bundle, cache: `${bundle}.up.v8-cache` }
}

/** Loads the bundle in a new process (key `up`); what it exported, and what went to stderr. */
function load(bundle: string, env: Record<string, string> = {}, nodeFlags: string[] = []): { exports: unknown; stderr: string } {
  // tsx (which loads the TypeScript here) turns source maps on; the built programs run without them.
  const script = `import { requireBundle } from ${JSON.stringify(loader)}
    if (!process.env.SOURCE_MAPS) process.setSourceMapsEnabled(false)
    const m = requireBundle(${JSON.stringify(bundle)}, 'up')
    console.log(JSON.stringify({ sum: m.sum, base: m.base, dir: m.dir, later: await m.later() }))`
  const r = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } })
  if (r.status !== 0) throw new Error(`load failed (${r.status}): ${r.stderr}`)
  return { exports: JSON.parse(r.stdout), stderr: r.stderr }
}

const expected = (dir: string) => ({ sum: 4950, base: 'x-bundle.cjs', dir, later: 'function' })

t.test('the first start writes the cache; the next takes it back and leaves it be', async (t) => {
  const { dir, bundle, cache } = scratch(t)
  t.same(load(bundle).exports, expected(dir))
  t.ok(existsSync(cache), 'written on exit')
  t.equal(statSync(cache).mode & 0o777, 0o644)
  const before = statSync(cache)
  t.same(load(bundle).exports, expected(dir), 'same exports from the cache')
  const after = statSync(cache)
  // Written only when missing or rejected: the same file means V8 took it.
  t.equal(after.ino, before.ino, 'accepted, not rewritten')
  t.same(readdirSync(dir).sort(), ['x-bundle.cjs', 'x-bundle.cjs.up.v8-cache'], 'no temp file left')
})

t.test('a corrupt cache, or one of an older bundle, is compiled past and replaced', async (t) => {
  const { dir, bundle, cache } = scratch(t)
  writeFileSync(cache, Buffer.alloc(4096, 7), { mode: 0o644 })
  t.same(load(bundle).exports, expected(dir))
  t.not(readFileSync(cache).toString('hex'), Buffer.alloc(4096, 7).toString('hex'), 'replaced')
  const old = statSync(cache).ino
  writeFileSync(bundle, BUNDLE.replace('work(100)', 'work(10)'))
  t.same(load(bundle).exports, { ...expected(dir), sum: 45 }, 'the new source runs, not the cached one')
  t.not(statSync(cache).ino, old, 'the stale cache was rejected and replaced')
  // V8 compares only the length: a source of the same length must not get the other's code.
  const again = statSync(cache).ino
  writeFileSync(bundle, BUNDLE.replace('work(100)', 'work(20)'))
  t.same(load(bundle).exports, { ...expected(dir), sum: 190 }, 'same length, other source: its own code runs')
  t.not(statSync(cache).ino, again, 'and the cache of the other source was replaced')
})

t.test('a cache cut short (its copy of the source whole, or not) is compiled past and replaced', async (t) => {
  const { dir, bundle, cache } = scratch(t)
  load(bundle)
  const whole = readFileSync(cache)
  const header = 'kvmnet-code-cache\n'.length + 4
  // The source compared chunk by chunk, V8's part read after it: a file that ends anywhere is not used.
  for (const cut of [header + Buffer.byteLength(BUNDLE), header + 100, header, 5]) {
    writeFileSync(cache, whole.subarray(0, cut), { mode: 0o644 })
    t.same(load(bundle).exports, expected(dir), `cut at ${cut}`)
    t.ok(statSync(cache).size > cut, 'replaced')
  }
})

t.test('a bundle that is not ASCII loads as UTF-8, from its cache too; an ASCII one sees the same wrapper', async (t) => {
  const { dir, bundle, cache } = scratch(t)
  // The bundle is read between Node's wrapper (one flat string for V8): what it sees must not change.
  writeFileSync(bundle, BUNDLE.replace('base: path.basename(__filename)', 'base: path.basename(__filename) + " \u00e9\u2192"'))
  t.same(load(bundle).exports, { ...expected(dir), base: 'x-bundle.cjs \u00e9\u2192' }, 'compiled')
  t.ok(existsSync(cache))
  t.same(load(bundle).exports, { ...expected(dir), base: 'x-bundle.cjs \u00e9\u2192' }, 'from the cache')
  writeFileSync(bundle, BUNDLE.replace('module.exports = {', 'module.exports = { args: arguments.length, wrapped: typeof exports === "object" && typeof module === "object",'))
  const ascii = `import { requireBundle } from ${JSON.stringify(loader)}
    process.setSourceMapsEnabled(false)
    const m = requireBundle(${JSON.stringify(bundle)}, 'up')
    console.log(JSON.stringify({ args: m.args, wrapped: m.wrapped, sum: m.sum }))`
  for (const run of ['compiled', 'from the cache']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ascii], { cwd: root, encoding: 'utf8' })
    t.same(JSON.parse(r.stdout), { args: 5, wrapped: true, sum: 4950 }, run)
  }
})

t.test('a cache V8 refuses (made under other V8 flags) is replaced by one holding the exact source, ASCII or not', async (t) => {
  // V8's data is read into the buffer the source was read into, once its string is made: a cache V8 then
  // refuses must be rewritten from the source itself, not from what overwrote it. A bundle much bigger than
  // V8's data for it, so that the data does go into that buffer.
  const padding = `// ${'x'.repeat(40_000)}\n`
  for (const [what, source] of [
    ['ASCII', BUNDLE + padding],
    ['not ASCII', BUNDLE.replace('base: path.basename(__filename)', 'base: path.basename(__filename) + " \u00e9"') + padding],
  ] as const) {
    const { dir, bundle, cache } = scratch(t)
    writeFileSync(bundle, source)
    const want = { ...expected(dir), base: what === 'ASCII' ? 'x-bundle.cjs' : 'x-bundle.cjs \u00e9' }
    const header = 'kvmnet-code-cache\n'.length + 4
    const sourceCopy = () => readFileSync(cache).subarray(header, header + Buffer.byteLength(source))
    t.same(load(bundle).exports, want, `${what}: compiled`)
    t.ok(readFileSync(cache).length - header - Buffer.byteLength(source) < Buffer.byteLength(source), `${what}: V8's data is smaller than the source`)
    for (const flags of [['--max-lazy'], []]) {
      const before = statSync(cache).ino
      t.same(load(bundle, {}, flags).exports, want, `${what}: runs under ${flags.join(' ') || 'no flags'} with the other flags' cache`)
      t.not(statSync(cache).ino, before, `${what}: that cache refused and replaced`)
      t.ok(sourceCopy().equals(Buffer.from(source)), `${what}: the new cache holds the exact source`)
      const kept = statSync(cache).ino
      t.same(load(bundle, {}, flags).exports, want, `${what}: from the new cache`)
      t.equal(statSync(cache).ino, kept, `${what}: which V8 takes`)
    }
  }
})

t.test('a cache others can write, or a symbolic link, is not loaded; the link is replaced, its target untouched', async (t) => {
  const { dir, bundle, cache } = scratch(t)
  load(bundle)
  chmodSync(cache, 0o666)
  t.same(load(bundle).exports, expected(dir))
  t.equal(statSync(cache).mode & 0o777, 0o644, 'replaced by one of our own')
  const target = join(dir, 'elsewhere')
  writeFileSync(target, 'not a cache')
  rmSync(cache)
  symlinkSync(target, cache)
  t.same(load(bundle).exports, expected(dir))
  t.notOk(lstatSync(cache).isSymbolicLink(), 'the link itself was replaced')
  t.equal(readFileSync(target, 'utf8'), 'not a cache', 'its target untouched')
})

t.test('KVMNET_COMPILE_CACHE=0, or source maps on: a plain require, nothing written', async (t) => {
  const { dir, bundle, cache } = scratch(t)
  t.same(load(bundle, { KVMNET_COMPILE_CACHE: '0' }).exports, expected(dir))
  t.notOk(existsSync(cache))
  t.same(load(bundle, { SOURCE_MAPS: '1' }).exports, expected(dir))
  t.notOk(existsSync(cache))
})

const built = existsSync(join(root, 'dist/cli-bundle.cjs'))

// Node as a user runs it: tap adds NODE_OPTIONS to every child (its process-info hook turns source maps
// on, which turns the cache off), so it is taken out where Node starts.
const asUser = ['-u', 'NODE_OPTIONS', process.execPath]

t.test('the built bundles have no import() (a script from a code cache cannot run one in Node 20)', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  for (const b of ['cli-bundle.cjs', 'cni-bundle.cjs']) t.notMatch(readFileSync(join(root, 'dist', b), 'utf8'), /[^\w.$]import\(/, b)
})

t.test('the built CLI says the same with and without its cache', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const cli = (env: Record<string, string> = {}, program = 'dist/cli.cjs') => spawnSync('env', [...asUser, join(root, program), 'schema'], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } })
  const plain = cli({ KVMNET_COMPILE_CACHE: '0' })
  t.equal(plain.status, 0)
  for (const run of [cli(), cli()]) {
    t.equal(run.status, 0)
    t.equal(run.stdout, plain.stdout)
    t.equal(run.stderr, '')
  }
  t.ok(existsSync(join(root, 'dist/cli-bundle.cjs.schema.v8-cache')), 'written by the first run')
  // dist/cli.js, the ES module the package's bin was before: what names it still runs the same command.
  const esm = cli({}, 'dist/cli.js')
  t.equal(esm.status, 0)
  t.equal(esm.stdout, plain.stdout, 'dist/cli.js too')
  const bad = spawnSync('env', [...asUser, join(root, 'dist/cli.cjs'), 'schema', '--bogus'], { cwd: root, encoding: 'utf8' })
  const badPlain = spawnSync('env', [...asUser, join(root, 'dist/cli.cjs'), 'schema', '--bogus'], { cwd: root, encoding: 'utf8', env: { ...process.env, KVMNET_COMPILE_CACHE: '0' } })
  t.equal(bad.status, badPlain.status, 'same exit code for bad input')
  t.equal(bad.stderr, badPlain.stderr, 'same error line')
})

t.test('a user who cannot write beside the bundle runs the command without a cache, and without a word about it', { skip: !built ? 'dist/ not built' : process.getuid?.() !== 0 ? 'needs root to run as nobody' : false }, async (t) => {
  const copy = readableCopy()
  for (const f of readdirSync(join(copy, 'dist'))) if (f.endsWith('.v8-cache')) rmSync(join(copy, 'dist', f))
  // env -i: tap's process tracking adds its loader (under this clone, unreadable to nobody below a 0700
  // /root) to the NODE_OPTIONS of every child it sees start.
  const out = execFileSync('env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, join(copy, 'dist/cli.cjs'), 'schema'], { cwd: tmpdir(), encoding: 'utf8', uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] })
  t.match(out, /"\$schema"/)
  t.same(readdirSync(join(copy, 'dist')).filter((f) => f.endsWith('.v8-cache') || f.endsWith('.tmp')), [], 'nothing written')
})

t.test("kvmnet's entries load core.cjs once through its build-time cache; a corrupt cache or source maps change nothing", { skip: existsSync(join(root, 'dist/core.cjs.v8-cache')) ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvc-cc-pkg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(join(root, 'package.json'), join(dir, 'package.json'))
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  if (existsSync(join(root, 'prebuilds'))) symlinkSync(join(root, 'prebuilds'), join(dir, 'prebuilds'))
  const probe = (flags: string[] = []) =>
    JSON.parse(
      execFileSync('env', [...asUser, ...flags, '--input-type=module', '-e', `
        import { createRequire } from 'node:module'
        import * as esm from 'kvmnet'
        import * as wire from 'kvmnet/wire'
        const req = createRequire(import.meta.url)
        const cjs = req('kvmnet')
        const err = (() => { try { cjs.validateSpec({ name: 'x', mode: 'natt' }) } catch (e) { return e } })()
        console.log(JSON.stringify({ same: esm.Network === cjs.Network, wireSame: wire.NftError === req('kvmnet/wire').NftError, spec: err instanceof esm.SpecError && err.field, cores: Object.keys(req.cache).filter((f) => f.endsWith('/dist/core.cjs')).length }))
      `], { cwd: dir, encoding: 'utf8' }),
    ) as unknown
  const want = { same: true, wireSame: true, spec: 'mode', cores: 1 }
  t.same(probe(), want, 'with the build-time cache')
  t.same(probe(['--enable-source-maps']), want, 'source maps on: a plain require')
  writeFileSync(join(dir, 'dist/core.cjs.v8-cache'), Buffer.alloc(8192, 3))
  t.same(probe(), want, 'a corrupt cache is compiled past')
  t.ok(readFileSync(join(dir, 'dist/core.cjs.v8-cache')).equals(Buffer.alloc(8192, 3)), 'and nothing is written at run time')
  // V8 compares only the length: a core.cjs of the same length with other code must not get the cached code
  // (here a constant its top level sets, which the cache holds).
  cpSync(join(root, 'dist/core.cjs.v8-cache'), join(dir, 'dist/core.cjs.v8-cache'))
  const core = join(dir, 'dist/core.cjs')
  writeFileSync(core, readFileSync(core, 'utf8').replace('var TABLE_PREFIX = "kvmnet_";', 'var TABLE_PREFIX = "KVMNET_";'))
  const prefix = execFileSync('env', [...asUser, '-e', "process.stdout.write(require('kvmnet').TABLE_PREFIX)"], { cwd: dir, encoding: 'utf8' })
  t.equal(prefix, 'KVMNET_', 'the edited core.cjs runs, not the cached code of the other one')
  // The loader compares the cache's copy of the source in 64 KB pieces and reads V8's part on its own:
  // a cache cut short anywhere (in its header, in that copy, right after it, in V8's part) is compiled past.
  const good = readFileSync(join(root, 'dist/core.cjs.v8-cache'))
  const sourceEnd = 'kvmnet-core-cache\n'.length + 4 + good.readUInt32LE('kvmnet-core-cache\n'.length)
  cpSync(join(root, 'dist/core.cjs'), core)
  for (const [what, at] of [['in its header', 10], ['in its copy of the source', 70000], ['right after that copy', sourceEnd], ["in V8's part", sourceEnd + 1000]] as const) {
    writeFileSync(join(dir, 'dist/core.cjs.v8-cache'), good.subarray(0, at))
    t.same(probe(), want, `a cache cut short ${what} is compiled past`)
  }
})
