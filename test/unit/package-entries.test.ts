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
