/** The published JSON Schema of a network spec, generated from the same zod schema the code validates with. */
import { z } from 'zod'
import { specSchema } from './spec.js'

export function networkJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(specSchema, { unrepresentable: 'any' }),
    $id: 'https://kvmnet.dev/schema/network.schema.json',
    title: 'kvmnet network spec',
  }
}
