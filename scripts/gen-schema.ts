// Regenerates schema/network.schema.json from the spec schema (src/network/spec.ts) (the unit tests check it is current).
import { writeFileSync } from 'node:fs'
import { networkJsonSchema } from '../src/network/json-schema.js'

writeFileSync(new URL('../schema/network.schema.json', import.meta.url), `${JSON.stringify(networkJsonSchema(), null, 2)}\n`)
