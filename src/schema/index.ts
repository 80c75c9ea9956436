/** schema: the folder's face. */
export { s } from './constructors.js'
export { fieldPath } from './field-path.js'
export type { DiscriminatedSchema, Infer, Issue, Schema } from './schema.js'
