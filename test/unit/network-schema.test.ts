import t from 'tap'
import { readFileSync } from 'node:fs'
import { NETWORK_MODES, specSchema, shapeIssues } from '../../src/network/spec.js'
import { networkJsonSchema } from '../../src/network/json-schema.js'
import { s } from '../../src/schema/index.js'

// Before anything here checks a spec: loading the spec's module defines none of its schema (issue 21: every
// process that loads kvmnet paid for ~400 schema objects at load).
// (The variants are then neither kept, `defined`, nor an own field, as they were when built at load.)
const definedAtLoad = Reflect.get(specSchema, 'defined') !== undefined || Object.hasOwn(specSchema, 'variants')

t.test('the spec schema is defined on first use, once', async (t) => {
  t.equal(definedAtLoad, false, 'nothing defined by loading the module')
  t.same(shapeIssues({ mode: 'nat', name: 'x' }), [])
  const variants = specSchema.variants
  t.equal(specSchema.variants, variants, 'defined once and kept')
  t.same(shapeIssues({ mode: 'isolated', name: 'x', forwards: [] }), [{ field: 'forwards', reason: 'not a field of isolated networks (only nat)' }])
  let calls = 0
  const lazy = s.discriminated('kind', () => (calls++, { a: s.object({ kind: s.literal('a') }) })).describe('described after')
  t.equal(calls, 0, 'neither constructing nor describing defines the variants')
  t.ok(lazy.check({ kind: 'a' }, [], []))
  t.same(lazy.json(), { description: 'described after', oneOf: [{ type: 'object', properties: { kind: { type: 'string', const: 'a' } }, required: ['kind'], additionalProperties: false }] })
  t.equal(calls, 1)
})

t.test('NETWORK_MODES lists the schema\'s modes in its order', async (t) => {
  t.same(NETWORK_MODES, Object.keys(specSchema.variants))
})

t.test('the published JSON Schema is current (regenerate: node --import tsx scripts/gen-schema.ts)', async (t) => {
  const published = JSON.parse(readFileSync(new URL('../../schema/network.schema.json', import.meta.url), 'utf8'))
  t.same(published, networkJsonSchema())
})

type Obj = { properties: Record<string, { properties?: Record<string, unknown> }> }

t.test('one variant per kind, discriminated by mode', async (t) => {
  const schema = networkJsonSchema() as { oneOf: (Obj & { required: string[] })[] }
  const modes = schema.oneOf.map((v) => (v.properties.mode as { const?: string }).const)
  t.same(modes.sort(), ['bridge', 'isolated', 'macvtap', 'nat', 'open', 'routed', 'very-isolated'])
  const bridge = schema.oneOf.find((v) => (v.properties.mode as { const?: string }).const === 'bridge')
  t.ok(bridge?.required.includes('interface'), 'a bridge network requires interface')
  const iso = schema.oneOf.find((v) => (v.properties.mode as { const?: string }).const === 'isolated')
  t.notOk(iso && 'forwards' in iso.properties, 'forwards exist only where they apply')
})

t.test('every spec field is documented in the README', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const schema = networkJsonSchema() as { oneOf: Obj[] }
  const fields = new Set<string>()
  for (const variant of schema.oneOf) {
    for (const [k, v] of Object.entries(variant.properties)) {
      if (v.properties) for (const sub of Object.keys(v.properties)) fields.add(`${k}.${sub}`)
      else fields.add(k)
    }
  }
  for (const f of fields) t.ok(readme.includes(`\`${f}`), `README documents ${f}`)
})
