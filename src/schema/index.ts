/** schema: the folder's face. */
export { fieldPath, s } from './schema.js'
export type { DiscriminatedSchema, Infer, Issue, Schema } from './schema.js'
