/** The published JSON Schema of a network spec, generated from the same schema the code validates with. */
import { specSchema } from './spec.js'

export function networkJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://kvmnet.dev/schema/network.schema.json',
    title: 'kvmnet network spec',
    ...specSchema.json(),
  }
}
