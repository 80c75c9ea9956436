import t from 'tap'
import { readFileSync } from 'node:fs'
import { networkJsonSchema } from '../../src/network/json-schema.js'

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
