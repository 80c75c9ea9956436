/**
 * What loading kvmnet costs, checked by what it loads rather than by time: `require('kvmnet')` and
 * `import('kvmnet')` compile none of Node's builtins outside its start-up snapshot (crypto, net, zlib,
 * fs/promises… each required on first use, see tsup.config.ts), and the bundles are ASCII (V8 copies
 * them as Latin-1 instead of decoding UTF-8 into a two-byte string, see scripts/write-entries.mjs).
 * Runs against dist/ (the README's set-up builds it before the tests).
 */
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { isAscii } from 'node:buffer'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultBridgeName } from '../../src/network/names.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(join(root, 'dist/core.cjs'))

// tap's NODE_OPTIONS (its process-info hook) loads modules of its own into every child.
const asApp = (args: string[]) => execFileSync('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], { cwd: root, encoding: 'utf8' })

// A builtin the library's own loader uses (node:vm compiles core.cjs with its code cache).
const LOADER_BUILTINS = ['vm']

const probe = (load: string, first = '') => `
  ${first}
  const before = new Set(process.moduleLoadList)
  ${load}
  const added = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13))
  const name = k.defaultBridgeName('a-network-with-a-long-name')
  // Spelt in two pieces: \`node -e\` loads a builtin its code names.
  const after = process.moduleLoadList.includes('NativeModule cryp' + 'to')
  process.stdout.write(JSON.stringify({ added, name, cryptoAfterUse: after }))
`

t.test('loading kvmnet compiles no builtin outside Node’s snapshot; the first use loads what it needs', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  // A long network name is hashed (SHA-256) by the native addon, which the first use loads: node:crypto,
  // whose first require costs a fresh process 3-5 ms, is not loaded at all (src/util/sha256.ts).
  const want = { added: LOADER_BUILTINS, name: defaultBridgeName('a-network-with-a-long-name'), cryptoAfterUse: false }
  const cjs = JSON.parse(asApp(['--input-type=commonjs', '-e', probe(`const k = require(${JSON.stringify(join(root, 'dist/index.cjs'))})`)])) as unknown
  t.same(cjs, want, 'require')
  // The ESM loader's own (it reads a module's file with fs/promises, whatever module it is) are loaded by
  // an empty module first, which also loads node:module (only CommonJS has it from the snapshot; index.js
  // takes Module from it through process.getBuiltinModule, and imports no builtin) and reads import.meta.
  const dir = mkdtempSync(join(tmpdir(), 'kvc-load-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'empty.mjs'), 'import "node:module"\nimport.meta.url\n')
  const esm = JSON.parse(asApp(['--input-type=module', '-e', probe(`const k = await import(${JSON.stringify(join(root, 'dist/index.js'))})`, `await import(${JSON.stringify(join(dir, 'empty.mjs'))})`)])) as unknown
  t.same(esm, want, 'import')
})

t.test('without a loadable addon the same names come from node:crypto', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  // A copy of dist/ under a package root of its own with no prebuilds/, no native build and no
  // node_modules: the addon cannot be loaded there, and a pure function must still work.
  const dir = mkdtempSync(join(tmpdir(), 'kvc-noaddon-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'kvmnet', type: 'module' }))
  const r = JSON.parse(asApp(['--input-type=commonjs', '-e', probe(`const k = require(${JSON.stringify(join(dir, 'dist/index.cjs'))})`)])) as unknown
  t.same(r, { added: LOADER_BUILTINS, name: defaultBridgeName('a-network-with-a-long-name'), cryptoAfterUse: true })
})

t.test('ipaddr.js comes from inside core.cjs (under its code cache), not from node_modules', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const r = JSON.parse(asApp(['-e', `
    const k = require(${JSON.stringify(join(root, 'dist/index.cjs'))})
    const spec = k.validateSpec({ name: 'x', mode: 'nat', ipv4: { address: '10.1.0.1/24' } })
    process.stdout.write(JSON.stringify({ address: spec.ipv4.address, fromNodeModules: Object.keys(require.cache).filter((f) => f.includes('node_modules')) }))
  `])) as unknown
  t.same(r, { address: '10.1.0.1/24', fromNodeModules: [] })
})

t.test('the kvmnet program is CommonJS: help and version start neither the ESM loader nor the bundle', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const bin = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.kvmnet ?? ''
  t.match(bin, /\.cjs$/, 'the bin is a .cjs file')
  const dir = mkdtempSync(join(tmpdir(), 'kvc-load-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const spy = join(dir, 'spy.cjs')
  writeFileSync(spy, "process.on('exit', () => require('fs').writeSync(3, JSON.stringify(process.moduleLoadList.filter((m) => /esm\\/translators|NativeModule vm$/.test(m)))))\n")
  for (const args of [['--help'], ['--version'], ['up', '--help']]) {
    const r = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-r', spy, join(root, bin), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
    t.equal(r.status, 0, args.join(' '))
    t.match(r.stdout, /kvmnet/)
    t.same(JSON.parse(String(r.output[3])), [], `${args.join(' ')}: no ESM translator, no node:vm`)
  }
})

t.test('kvmnet-cni is CommonJS too: it answers without the ESM loader', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const bin = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['kvmnet-cni'] ?? ''
  t.match(bin, /\.cjs$/, 'the bin is a .cjs file')
  const dir = mkdtempSync(join(tmpdir(), 'kvc-load-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const spy = join(dir, 'spy.cjs')
  writeFileSync(spy, "process.on('exit', () => require('fs').writeSync(3, JSON.stringify(process.moduleLoadList.filter((m) => /esm\\/translators/.test(m)))))\n")
  const r = spawnSync('env', ['-u', 'NODE_OPTIONS', 'CNI_COMMAND=VERSION', process.execPath, '-r', spy, join(root, bin)], { cwd: root, encoding: 'utf8', input: '{}', stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })
  t.equal(r.status, 0)
  t.match(JSON.parse(r.stdout), { cniVersion: '1.1.0' })
  t.same(JSON.parse(String(r.output[3])), [], 'no ESM translator')
})

t.test('the CommonJS bundles are ASCII', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  for (const f of ['core.cjs', 'cli-bundle.cjs', 'cni-bundle.cjs', 'load-core.cjs', 'index.cjs']) t.ok(isAscii(readFileSync(join(root, 'dist', f))), f)
})
