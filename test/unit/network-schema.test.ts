import t from 'tap'
import { readFileSync } from 'node:fs'
import { networkJsonSchema } from '../../src/network/json-schema.js'

t.test('the published JSON Schema is current (regenerate: node --import tsx scripts/gen-schema.ts)', async (t) => {
  const published = JSON.parse(readFileSync(new URL('../../schema/network.schema.json', import.meta.url), 'utf8'))
  t.same(published, networkJsonSchema())
})

t.test('every spec field is documented in the README', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const schema = networkJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown>; anyOf?: unknown }> }
  const fields: string[] = []
  for (const [k, v] of Object.entries(schema.properties)) {
    if (v.properties) for (const sub of Object.keys(v.properties)) fields.push(`${k}.${sub}`)
    else fields.push(k)
  }
  for (const f of fields) t.ok(readme.includes(`\`${f}`), `README documents ${f}`)
})
