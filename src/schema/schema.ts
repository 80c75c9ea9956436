/**
 * A small schema language for kvmnet's spec: one definition gives the TypeScript type (`Infer`), the
 * validation that names every bad field as the user wrote it, and the published JSON Schema.
 *
 * Why not zod: zod cost 70–150 ms of every CLI start and ~12 MB of RSS at load, more than everything else
 * the CLI loads together; the spec needs strings with patterns, bounded integers, enums, strict objects,
 * arrays, tuples and a union discriminated on `mode` — a few hundred lines, loaded in ~1 ms.
 * Validation transforms nothing: a valid input is returned as it is (its type narrowed).
 */

export type Path = readonly (string | number)[]

export interface Issue {
  path: Path
  message: string
  /** 'unknown' marks a field the object does not have (so a union can say which kind has it). */
  code?: 'unknown' | 'required'
}

export type JsonSchema = Record<string, unknown>

export abstract class Schema<T> {
  /** Phantom: the validated type. */
  declare readonly _type: T
  description: string | undefined

  /** Check `v`, pushing an issue per problem; true when `v` is a valid T. */
  abstract check(v: unknown, path: Path, issues: Issue[]): v is T
  protected abstract jsonBody(): JsonSchema

  json(): JsonSchema {
    const body = this.jsonBody()
    return this.description ? { description: this.description, ...body } : body
  }

  describe(description: string): this {
    const c = Object.create(Object.getPrototypeOf(this) as object) as this
    Object.assign(c, this, { description })
    return c
  }

  optional(): OptionalSchema<T> {
    return new OptionalSchema(this)
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never

export class OptionalSchema<T> extends Schema<T | undefined> {
  constructor(readonly inner: Schema<T>) {
    super()
    this.description = inner.description
  }
  check(v: unknown, path: Path, issues: Issue[]): v is T | undefined {
    return v === undefined || this.inner.check(v, path, issues)
  }
  protected jsonBody(): JsonSchema {
    const { description: _d, ...rest } = this.inner.json()
    return rest
  }
  override describe(description: string): this {
    const c = super.describe(description)
    return c
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'undefined'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

export class StringSchema<T extends string = string> extends Schema<T> {
  private pattern: { re: RegExp; message: string } | undefined
  private readonly refinements: { ok: (s: string) => boolean; message: string }[] = []
  private format: string | undefined

  check(v: unknown, path: Path, issues: Issue[]): v is T {
    if (typeof v !== 'string') {
      issues.push({ path, message: `expected a string, got ${typeName(v)}` })
      return false
    }
    if (this.pattern && !this.pattern.re.test(v)) {
      issues.push({ path, message: this.pattern.message })
      return false
    }
    for (const r of this.refinements) {
      if (!r.ok(v)) {
        issues.push({ path, message: r.message })
        return false
      }
    }
    return true
  }

  regex(re: RegExp, message: string): StringSchema<T> {
    const c = this.clone()
    c.pattern = { re, message }
    return c
  }

  refine(ok: (s: string) => boolean, message: string): StringSchema<T> {
    const c = this.clone()
    c.refinements.push({ ok, message })
    return c
  }

  /** A JSON Schema `format` to publish (validation is the refinements'). */
  formatted(format: string): StringSchema<T> {
    const c = this.clone()
    c.format = format
    return c
  }

  private clone(): StringSchema<T> {
    const c = new StringSchema<T>()
    c.description = this.description
    c.pattern = this.pattern
    c.refinements.push(...this.refinements)
    c.format = this.format
    return c
  }

  protected jsonBody(): JsonSchema {
    return {
      type: 'string',
      ...(this.pattern ? { pattern: this.pattern.re.source } : {}),
      ...(this.format ? { format: this.format } : {}),
    }
  }
}

export class NumberSchema extends Schema<number> {
  constructor(
    private readonly opts: { int?: boolean; min?: number; max?: number } = {},
  ) {
    super()
  }
  check(v: unknown, path: Path, issues: Issue[]): v is number {
    const { int, min, max } = this.opts
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      issues.push({ path, message: `expected a number, got ${typeName(v)}` })
      return false
    }
    if (int && !Number.isInteger(v)) {
      issues.push({ path, message: 'expected a whole number' })
      return false
    }
    if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
      issues.push({ path, message: `must be ${min ?? '-∞'} … ${max ?? '∞'}` })
      return false
    }
    return true
  }
  protected jsonBody(): JsonSchema {
    const { int, min, max } = this.opts
    return { type: int ? 'integer' : 'number', ...(min !== undefined ? { minimum: min } : {}), ...(max !== undefined ? { maximum: max } : {}) }
  }
}

export class BooleanSchema extends Schema<boolean> {
  check(v: unknown, path: Path, issues: Issue[]): v is boolean {
    if (typeof v === 'boolean') return true
    issues.push({ path, message: `expected true or false, got ${typeName(v)}` })
    return false
  }
  protected jsonBody(): JsonSchema {
    return { type: 'boolean' }
  }
}

export class EnumSchema<L extends string> extends Schema<L> {
  constructor(readonly values: readonly L[]) {
    super()
  }
  check(v: unknown, path: Path, issues: Issue[]): v is L {
    if (typeof v === 'string' && (this.values as readonly string[]).includes(v)) return true
    issues.push({ path, message: `expected ${this.values.map((x) => `'${x}'`).join(' | ')}` })
    return false
  }
  protected jsonBody(): JsonSchema {
    return this.values.length === 1 ? { type: 'string', const: this.values[0] } : { type: 'string', enum: [...this.values] }
  }
}

export class ArraySchema<T> extends Schema<readonly T[]> {
  constructor(
    readonly item: Schema<T>,
    private readonly maxItems?: number,
  ) {
    super()
  }
  check(v: unknown, path: Path, issues: Issue[]): v is readonly T[] {
    if (!Array.isArray(v)) {
      issues.push({ path, message: `expected an array, got ${typeName(v)}` })
      return false
    }
    if (this.maxItems !== undefined && v.length > this.maxItems) {
      issues.push({ path, message: `at most ${this.maxItems} entries` })
      return false
    }
    let ok = true
    for (let i = 0; i < v.length; i++) {
      // A hole (new Array(3), [, x]) is no item: skipped here, for...of would hand undefined to the code after.
      if (!(i in v)) {
        issues.push({ path: [...path, i], message: 'an empty slot of a sparse array, not a value' })
        ok = false
      } else if (!this.item.check(v[i], [...path, i], issues)) ok = false
    }
    return ok
  }
  protected jsonBody(): JsonSchema {
    return { type: 'array', items: this.item.json(), ...(this.maxItems !== undefined ? { maxItems: this.maxItems } : {}) }
  }
}

export class TupleSchema<T extends readonly unknown[]> extends Schema<T> {
  constructor(readonly items: { [K in keyof T]: Schema<T[K]> }) {
    super()
  }
  check(v: unknown, path: Path, issues: Issue[]): v is T {
    const items = this.items as readonly Schema<unknown>[]
    if (!Array.isArray(v) || v.length !== items.length) {
      issues.push({ path, message: `expected an array of ${items.length}` })
      return false
    }
    let ok = true
    for (let i = 0; i < items.length; i++) if (!items[i]!.check(v[i], [...path, i], issues)) ok = false
    return ok
  }
  protected jsonBody(): JsonSchema {
    const items = (this.items as readonly Schema<unknown>[]).map((s) => s.json())
    return { type: 'array', prefixItems: items, minItems: items.length, maxItems: items.length }
  }
}

export type Shape = Record<string, Schema<unknown>>
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S]
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>
type Flatten<T> = { [K in keyof T]: T[K] } & {}
export type InferShape<S extends Shape> = Flatten<
  { readonly [K in RequiredKeys<S>]: Infer<S[K]> } & { readonly [K in OptionalKeys<S>]?: Infer<S[K]> }
>

/** Keys that change an object's prototype or shadow its machinery when copied or merged: refused outright. */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/** An object with exactly these fields (unknown fields are refused: a typo is an error, not a no-op). */
export class ObjectSchema<S extends Shape> extends Schema<InferShape<S>> {
  private readonly fields: readonly (readonly [string, Schema<unknown>])[] // listed once, not per object checked
  private readonly required: readonly string[]
  constructor(readonly shape: S) {
    super()
    this.fields = Object.entries(shape)
    this.required = this.fields.filter(([, s]) => !(s instanceof OptionalSchema)).map(([k]) => k)
  }
  check(v: unknown, path: Path, issues: Issue[]): v is InferShape<S> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      issues.push({ path, message: `expected an object, got ${typeName(v)}` })
      return false
    }
    const rec = v as Record<string, unknown>
    const before = issues.length
    if (this.valid(rec, path, issues)) return true
    issues.length = before // the walk below names every problem, in the schema's order
    let ok = true
    for (const [k, s] of this.fields) {
      // Own fields only: nothing is read through the input's prototype chain.
      const value = Object.hasOwn(rec, k) ? rec[k] : undefined
      if (value === undefined) {
        // An absent optional field is fine: no path made for it (most of a port's fields are absent).
        if (s instanceof OptionalSchema) continue
        issues.push({ path: [...path, k], message: 'is required', code: 'required' })
        ok = false
      } else if (!s.check(value, [...path, k], issues)) ok = false
    }
    for (const k in rec) {
      if (!Object.hasOwn(rec, k)) continue // own keys, as Object.keys, without an array per object
      // hasOwn, not `in`: '__proto__', 'constructor', 'toString' are "in" every object literal.
      if (RESERVED_KEYS.has(k)) {
        issues.push({ path: [...path, k], message: "a JavaScript object's own key (__proto__, constructor, prototype), never a field" })
        ok = false
      } else if (!Object.hasOwn(this.shape, k)) {
        issues.push({ path: [...path, k], message: 'unknown field', code: 'unknown' })
        ok = false
      }
    }
    return ok
  }
  /**
   * A valid object's check, by its own keys: a port has one or two of the ~15 fields the walk in check()
   * visits. 1000-port `kvmnet up`: 595M -> 578M instructions (callgrind); its first check, cold and
   * without TurboFan as there: median 22 -> 11 ms. False at the first problem.
   */
  private valid(rec: Record<string, unknown>, path: Path, issues: Issue[]): boolean {
    for (const k of this.required) if (!Object.hasOwn(rec, k) || rec[k] === undefined) return false
    for (const k in rec) {
      if (!Object.hasOwn(rec, k)) continue
      if (RESERVED_KEYS.has(k) || !Object.hasOwn(this.shape, k)) return false
      const value = rec[k]
      if (value !== undefined && !(this.shape[k] as Schema<unknown>).check(value, [...path, k], issues)) return false
    }
    return true
  }
  protected jsonBody(): JsonSchema {
    const required = this.required
    return {
      type: 'object',
      properties: Object.fromEntries(Object.entries(this.shape).map(([k, s]) => [k, s.json()])),
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: false,
    }
  }
}

/** Anything (for parts whose shape another module owns and checks). */
export class UnknownSchema extends Schema<unknown> {
  check(_v: unknown, _path: Path, _issues: Issue[]): _v is unknown {
    return true
  }
  protected jsonBody(): JsonSchema {
    return {}
  }
}

/** One of several schemas (the first that accepts); `message` says what was expected when none does. */
export class UnionSchema<T> extends Schema<T> {
  constructor(
    readonly options: readonly Schema<T>[],
    private readonly message: string,
  ) {
    super()
  }
  check(v: unknown, path: Path, issues: Issue[]): v is T {
    for (const o of this.options) if (o.check(v, path, [])) return true
    issues.push({ path, message: this.message })
    return false
  }
  protected jsonBody(): JsonSchema {
    return { anyOf: this.options.map((o) => o.json()) }
  }
}

export type Variants<K extends string> = Record<string, ObjectSchema<Shape & Record<K, Schema<string>>>>

/**
 * Objects told apart by one field (`mode`): the variant is picked by that field's value, so errors speak
 * of the kind the user meant; a field that only another kind has is named as such. The variants are
 * defined by `define` on first use: a large schema (kvmnet's spec) then costs nothing to a process that
 * loads it and never checks anything.
 */
export class DiscriminatedSchema<K extends string, V extends Variants<K>> extends Schema<Infer<V[keyof V]>> {
  private defined: V | undefined
  constructor(
    readonly key: K,
    private readonly define: () => V,
  ) {
    super()
  }
  get variants(): V {
    return (this.defined ??= this.define())
  }
  check(v: unknown, path: Path, issues: Issue[]): v is Infer<V[keyof V]> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      issues.push({ path, message: `expected an object, got ${typeName(v)}` })
      return false
    }
    const tag = (v as Record<string, unknown>)[this.key]
    const variant = typeof tag === 'string' && Object.hasOwn(this.variants, tag) ? this.variants[tag] : undefined
    if (!variant) {
      issues.push({ path: [...path, this.key], message: `expected ${Object.keys(this.variants).map((x) => `'${x}'`).join(' | ')}` })
      return false
    }
    const mine: Issue[] = []
    const ok = variant.check(v, path, mine)
    for (const i of mine) {
      if (i.code === 'unknown') {
        const rel = i.path.slice(path.length)
        const owners = Object.entries(this.variants)
          .filter(([, s]) => hasField(s, rel))
          .map(([name]) => name)
        if (owners.length > 0) i.message = `not a field of ${String(tag)} networks (only ${owners.join(', ')})`
      }
      issues.push(i)
    }
    return ok
  }
  protected jsonBody(): JsonSchema {
    return { oneOf: Object.values(this.variants).map((s) => s.json()) }
  }
}

/** Whether an object schema has a field at `path` (through nested objects, optionals and arrays). */
function hasField(s: Schema<unknown>, path: Path): boolean {
  let cur: Schema<unknown> | undefined = s
  for (const p of path) {
    while (cur instanceof OptionalSchema || cur instanceof ArraySchema) cur = cur instanceof OptionalSchema ? cur.inner : cur.item
    if (typeof p === 'number') continue
    if (!(cur instanceof ObjectSchema)) return false
    if (!Object.hasOwn(cur.shape, p)) return false
    cur = (cur.shape as Shape)[p]
  }
  return true
}
