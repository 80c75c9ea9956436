/**
 * The published entries, as an application loads them (`kvmnet` and `kvmnet/wire`, by ESM import and by
 * CJS require, through package.json "exports"): one implementation behind all four, so instanceof holds
 * across module systems; the root has typed operations only, the Buffer-level pieces are in kvmnet/wire.
 * Runs against dist/ (the README's set-up builds it before the tests).
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(`${root}/dist/core.cjs`)

function probe(script: string): unknown {
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }))
}

t.test('instanceof holds across ESM and CJS, both ways', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const r = probe(`
    import { createRequire } from 'node:module'
    import * as esm from 'kvmnet'
    const cjs = createRequire(import.meta.url)('kvmnet')
    const fromCjs = (() => { try { cjs.validateSpec({ name: 'x', mode: 'natt' }) } catch (e) { return e } })()
    const fromEsm = (() => { try { esm.validateSpec({ name: 'x', mode: 'natt' }) } catch (e) { return e } })()
    console.log(JSON.stringify({
      cjsErrorIsEsmClass: fromCjs instanceof esm.SpecError,
      esmErrorIsCjsClass: fromEsm instanceof cjs.SpecError,
      sameNetwork: esm.Network === cjs.Network,
      sameNetns: esm.Netns === cjs.Netns,
      field: fromCjs.field,
    }))
  `)
  t.same(r, { cjsErrorIsEsmClass: true, esmErrorIsCjsClass: true, sameNetwork: true, sameNetns: true, field: 'mode' })
})

t.test('the root has typed operations only; the wire pieces are in kvmnet/wire', { skip: built ? false : 'dist/ not built' }, async (t) => {
  const r = probe(`
    import { createRequire } from 'node:module'
    import * as esm from 'kvmnet'
    import * as wire from 'kvmnet/wire'
    const req = createRequire(import.meta.url)
    const cjsWire = req('kvmnet/wire')
    const wireNames = ['RtnlSocket', 'encodeCreateLink', 'decodeLink', 'encodeDumpRoutes', 'encodeGetTable']
    console.log(JSON.stringify({
      inRoot: wireNames.filter((n) => n in esm || n in req('kvmnet')),
      inWire: wireNames.filter((n) => n in wire && n in cjsWire),
      sameSocketClass: wire.RtnlSocket === cjsWire.RtnlSocket,
      batchOnRtnl: 'batch' in esm.Rtnl.prototype,
    }))
  `)
  t.same(r, {
    inRoot: [],
    inWire: ['RtnlSocket', 'encodeCreateLink', 'decodeLink', 'encodeDumpRoutes', 'encodeGetTable'],
    sameSocketClass: true,
    batchOnRtnl: false,
  })
})

/**
 * How the ESM entries load core.cjs (scripts/write-entries.mjs): where Node has process.getBuiltinModule,
 * by the loader written into them, with core.cjs's code cache and without a CommonJS require of their own
 * (no load-core.cjs in require's cache); without it (Node before 20.16), through load-core.cjs. Either way,
 * and whichever module system loads kvmnet first, one core.cjs in the process.
 */
t.test('the ESM entries load core.cjs themselves, with its code cache, sharing it with CJS', { skip: built ? false : 'dist/ not built' }, async (t) => {
  const script = (first: 'esm' | 'cjs', dropBuiltinGetter: boolean) => `
    import { createRequire } from 'node:module'
    import vm from 'node:vm'
    const req = createRequire(import.meta.url)
    const scripts = []
    const Script = vm.Script
    vm.Script = class extends Script {
      constructor(source, opts) {
        super(source, opts)
        if (opts?.filename?.endsWith('/core.cjs')) scripts.push({ cached: Boolean(opts.cachedData), rejected: this.cachedDataRejected === true })
      }
    }
    ${dropBuiltinGetter ? 'delete process.getBuiltinModule' : ''}
    const a = ${first === 'esm' ? "await import('kvmnet')" : "req('kvmnet')"}
    const loaders = Object.keys(req.cache).map((f) => f.split('/').at(-1)).filter((f) => /core\\.cjs$/.test(f)).sort()
    const b = ${first === 'esm' ? "req('kvmnet')" : "await import('kvmnet')"}
    const wire = await import('kvmnet/wire')
    console.log(JSON.stringify({ same: a.Network === b.Network && a.SpecError === b.SpecError, wire: wire.RtnlSocket === req('kvmnet/wire').RtnlSocket, scripts, loaders }))
  `
  // Without tap's NODE_OPTIONS (source maps on, its hooks): as an application loads kvmnet.
  const asApp = (args: string[]) => JSON.parse(execFileSync('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], { cwd: root, encoding: 'utf8' })) as unknown
  const viaLoader = { same: true, wire: true, scripts: [{ cached: true, rejected: false }] }
  // loaders: what require's cache held right after the first load.
  t.same(asApp(['--input-type=module', '-e', script('esm', false)]), { ...viaLoader, loaders: ['core.cjs'] }, 'ESM first: core.cjs loaded by index.js itself (no load-core.cjs), cache taken')
  t.same(asApp(['--input-type=module', '-e', script('cjs', false)]), { ...viaLoader, loaders: ['core.cjs', 'load-core.cjs'] }, 'CJS first: the ESM entry finds it in require’s cache')
  t.same(asApp(['--input-type=module', '-e', script('esm', true)]), { ...viaLoader, loaders: ['core.cjs', 'load-core.cjs'] }, 'no process.getBuiltinModule: through load-core.cjs')
  // With source maps on, a plain require of core.cjs (Node maps kvmnet's stacks), from ESM too.
  const mapped = asApp(['--enable-source-maps', '--input-type=module', '-e', script('esm', false)]) as { same: boolean; scripts: unknown[] }
  t.same([mapped.same, mapped.scripts], [true, []], 'source maps: no vm.Script of our own')
})
