/**
 * A small seeded property-test kit (no dependency): a PRNG whose seed is printed in each test's name, so a
 * failure reproduces with KVMNET_FUZZ_SEED=<seed>; hostile values; structural mutations of JSON-like input.
 */

/**
 * The run's seed (printed by the caller in its test name): a fixed one by default, so that the suite (and
 * CI) runs the same cases every time and a failure is never a matter of luck; KVMNET_FUZZ_SEED=<n> for
 * another, KVMNET_FUZZ_SEED=random for a fresh one each run (for exploring, as was done with many seeds).
 */
export function fuzzSeed(): number {
  const env = process.env.KVMNET_FUZZ_SEED
  if (env === 'random') return (Date.now() ^ (process.pid << 16)) >>> 0
  return env !== undefined && env !== '' ? Number(env) >>> 0 : 20261207
}

/** mulberry32: small, fast, good enough to spread mutations. */
export class Rng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }
}

/** Text that would add a line, an option or a statement if it escaped its field. INJ marks it. */
export const INJECTIONS: readonly string[] = [
  '\nINJ=1',
  '\r\nINJ=1',
  '"\nINJ=1',
  '\\"\nINJ',
  ',INJ',
  ' INJ',
  '#INJ',
  '/INJ/',
  '\0INJ',
  '\u2028INJ',
  '\u0085INJ',
  '"; INJ; "',
  '}; INJ {',
  '%INJ',
  '$(INJ)',
]

/** Values of every JSON type, and a few that only an API caller can pass. */
export function hostileValue(rng: Rng, current?: unknown): unknown {
  const deep = (n: number): unknown => (n === 0 ? 'bottom' : rng.chance(0.5) ? [deep(n - 1)] : { a: deep(n - 1) })
  const pool: (() => unknown)[] = [
    () => null,
    () => undefined,
    () => true,
    () => false,
    () => 0,
    () => -0,
    () => -1,
    () => 1.5,
    () => NaN,
    () => Infinity,
    () => -Infinity,
    () => 2 ** 53,
    () => 2 ** 31,
    () => 2 ** 32,
    () => 1e308,
    () => 65536,
    () => '',
    () => ' ',
    () => 'a'.repeat(rng.pick([16, 64, 256, 4096, 100_000])),
    () => 'é',
    () => '\u0000',
    () => '__proto__',
    () => 'constructor',
    () => 'toString',
    () => '..',
    () => '.',
    () => 'infinite',
    () => 'ignore',
    () => '52:54:00:aa:bb:cc',
    () => 'ff:ff:ff:ff:ff:ff',
    () => '10.0.0.1',
    () => '0.0.0.0',
    () => '255.255.255.255',
    () => '::',
    () => '::ffff:10.0.0.1',
    () => 'fe80::1%eth0',
    () => '10.0.0.1/24',
    () => '10.0.0.1/33',
    () => 'fd00::1/64',
    () => '01.02.03.04',
    () => [],
    () => [1, 2],
    () => ['10.0.0.2', '10.0.0.3'],
    () => {},
    () => JSON.parse('{"__proto__": {"polluted": 1}}') as unknown,
    () => ({ constructor: { prototype: { polluted: 1 } } }),
    () => deep(rng.pick([5, 50, 500])),
    () => new Array(3),
    () => rng.pick(INJECTIONS),
  ]
  if (typeof current === 'string') {
    const inj = rng.pick(INJECTIONS)
    pool.push(
      () => current + inj,
      () => inj + current,
      () => current.slice(0, Math.max(0, current.length - 1)),
      () => current.toUpperCase(),
      () => current.repeat(rng.pick([2, 20, 300])),
      () => current.slice(0, rng.int(current.length + 1)) + String.fromCharCode(rng.int(0x80)) + current.slice(rng.int(current.length + 1)),
    )
  }
  if (typeof current === 'number') pool.push(() => current + 1, () => current - 1, () => -current, () => current + 0.5, () => String(current))
  return rng.pick(pool)()
}

type Seg = string | number
type Json = unknown

/** Every path to a value inside `v` (the root is []). */
export function pathsOf(v: Json, at: Seg[] = [], out: Seg[][] = []): Seg[][] {
  out.push(at)
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out))
  else if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) pathsOf((v as Record<string, unknown>)[k], [...at, k], out)
  return out
}

export function getAt(v: Json, path: readonly Seg[]): unknown {
  let cur = v
  for (const p of path) cur = (cur as Record<string | number, unknown>)[p]
  return cur
}

function setAt(root: Json, path: readonly Seg[], value: unknown): Json {
  if (path.length === 0) return value
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>
  Object.defineProperty(parent, path[path.length - 1] as string | number, { value, writable: true, enumerable: true, configurable: true })
  return root
}

/** A deep copy that keeps an own `__proto__` key as an own key (structuredClone and spreads would drop or apply it). */
export function clone(v: Json): Json {
  if (Array.isArray(v)) {
    const a = new Array(v.length)
    for (let i = 0; i < v.length; i++) if (i in v) a[i] = clone(v[i])
    return a
  }
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {}
    for (const k of Object.keys(v)) Object.defineProperty(o, k, { value: clone((v as Record<string, unknown>)[k]), writable: true, enumerable: true, configurable: true })
    return o
  }
  return v
}

const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'colour', 'valueOf', 'name', 'mode', 'INJ\nx']

/** One to three structural mutations of a copy of `base`. */
export function mutate(rng: Rng, base: Json): Json {
  let v = clone(base)
  const n = 1 + rng.int(3)
  for (let i = 0; i < n; i++) {
    const paths = pathsOf(v)
    const path = rng.pick(paths)
    const target = getAt(v, path)
    const op = rng.int(6)
    if (op <= 1 || path.length === 0) {
      v = setAt(v, path, hostileValue(rng, target)) // replace
    } else if (op === 2) {
      const parent = getAt(v, path.slice(0, -1))
      const last = path[path.length - 1] as Seg
      if (Array.isArray(parent)) parent.splice(last as number, 1)
      else delete (parent as Record<string, unknown>)[last] // drop
    } else if (op === 3 && typeof target === 'object' && target !== null && !Array.isArray(target)) {
      setAt(v, [...path, rng.pick(EXTRA_KEYS)], hostileValue(rng)) // an extra key, own even when it is __proto__
    } else if (op === 4 && Array.isArray(target) && target.length > 0) {
      target.push(clone(rng.pick(target))) // a duplicate entry
    } else {
      v = setAt(v, path, hostileValue(rng, target))
    }
  }
  return v
}

/** Runs `fn`, returning what it threw (undefined when it returned). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn()
    return undefined
  } catch (err) {
    return err ?? new Error('threw a nullish value')
  }
}

/** A short, bounded description of an input for a failure message. */
export function show(v: unknown, max = 600): string {
  let s: string
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x === undefined ? '<undefined>' : x))
  } catch (err) {
    s = `${String(v)} (not JSON: ${String(err)})`
  }
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s
}
