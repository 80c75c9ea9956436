import {
  ArraySchema,
  BooleanSchema,
  DiscriminatedSchema,
  EnumSchema,
  NumberSchema,
  ObjectSchema,
  StringSchema,
  TupleSchema,
  UnionSchema,
  UnknownSchema,
  type Infer,
  type Schema,
  type Shape,
  type Variants,
} from './schema.js'

/** Constructors, so a schema reads like the data it describes. */
export const s = {
  string: () => new StringSchema(),
  number: (opts?: { int?: boolean; min?: number; max?: number }) => new NumberSchema(opts),
  int: (min: number, max: number) => new NumberSchema({ int: true, min, max }),
  boolean: () => new BooleanSchema(),
  unknown: () => new UnknownSchema(),
  enum: <const L extends string>(values: readonly L[]) => new EnumSchema<L>(values),
  literal: <const L extends string>(value: L) => new EnumSchema<L>([value]),
  array: <T>(item: Schema<T>, maxItems?: number) => new ArraySchema<T>(item, maxItems),
  tuple: <const T extends readonly unknown[]>(items: { [K in keyof T]: Schema<T[K]> }) => new TupleSchema<T>(items),
  object: <S extends Shape>(shape: S) => new ObjectSchema<S>(shape),
  union: <const O extends readonly Schema<unknown>[]>(options: O, message: string) => new UnionSchema<Infer<O[number]>>(options as readonly Schema<Infer<O[number]>>[], message),
  discriminated: <K extends string, V extends Variants<K>>(key: K, variants: () => V) => new DiscriminatedSchema<K, V>(key, variants),
}
