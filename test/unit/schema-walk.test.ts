/**
 * The schema checker walks objects and arrays without allocating per field list (issue 21: every `up`
 * validates its spec and new states): the same issues as before for the cases the old walk (Object.entries,
 * Object.keys, forEach) decided — own keys only, an own `__proto__` refused, inherited fields ignored,
 * holes in arrays refused (they were skipped, and for...of after the check met them as undefined), tuples checked position by position, paths as the user wrote them.
 */
import t from 'tap'
import { fieldPath, s, type Issue } from '../../src/schema/index.js'

const item = s.object({ name: s.string(), size: s.object({ n: s.int(0, 9) }) })
const schema = s.object({ items: s.array(item), pair: s.tuple([s.string(), s.int(0, 9)] as const) })

function issues(v: unknown): string[] {
  const out: Issue[] = []
  schema.check(v, [], out)
  return out.map((i) => `${fieldPath(i.path)}: ${i.message}`)
}

t.test('valid input: no issue', async (t) => {
  t.same(issues({ items: [{ name: 'a', size: { n: 1 } }], pair: ['x', 2] }), [])
})

t.test('paths and messages as the user wrote the input', async (t) => {
  t.same(issues({ items: [{ name: 'a', size: { n: 1 } }, { name: 1, size: {}, extra: true }], pair: ['x', 'y'], more: 1 }), [
    'items[1].name: expected a string, got a number',
    'items[1].size.n: is required',
    'items[1].extra: unknown field',
    'pair[1]: expected a number, got a string',
    'more: unknown field',
  ])
})

t.test('own keys only: inherited fields ignored, an own __proto__ refused', async (t) => {
  const inherited = Object.create({ stray: 1 }) as Record<string, unknown>
  inherited.items = []
  inherited.pair = ['x', 1]
  t.same(issues(inherited), [], 'an enumerable inherited field is not a field of the input')
  t.same(issues(JSON.parse('{"items": [], "pair": ["x", 1], "__proto__": {}}')), ["__proto__: a JavaScript object's own key (__proto__, constructor, prototype), never a field"])
})

t.test('a hole in an array is refused (code after the check iterates with for...of); a tuple checks every position', async (t) => {
  // eslint-disable-next-line no-sparse-arrays
  t.same(issues({ items: [, { name: 'b', size: { n: 2 } }], pair: ['x', 1] }), ['items[0]: an empty slot of a sparse array, not a value'])
  t.same(issues({ items: [undefined], pair: ['x', 1] }), ['items[0]: expected an object, got undefined'])
  // eslint-disable-next-line no-sparse-arrays
  t.match(issues({ items: [], pair: [, 1] }), [/^pair\[0\]: expected a string, got /])
})

t.test('an object is checked by its own keys first; any problem, the full walk: every issue, in the schema order', async (t) => {
  const o = s.object({ a: s.string(), b: s.int(0, 9).optional(), c: s.object({ n: s.int(0, 9) }).optional() })
  const check = (v: unknown) => {
    const out: Issue[] = []
    return { ok: o.check(v, [], out), issues: out.map((i) => `${fieldPath(i.path)}: ${i.message}`) }
  }
  t.same(check({ a: 'x' }), { ok: true, issues: [] })
  t.same(check({ c: { n: 1 }, b: undefined, a: 'x' }), { ok: true, issues: [] }, 'any key order; an undefined optional is absent')
  // Keys in another order than the schema's, a nested problem, an unknown field: the walk's issues, once each.
  t.same(check({ z: 1, c: { n: 99 }, b: 'no' }), {
    ok: false,
    issues: ['a: is required', 'b: expected a number, got a string', 'c.n: must be 0 … 9', 'z: unknown field'],
  })
  t.same(check({ a: undefined }).issues, ['a: is required'], 'a required field set to undefined')
  const withIssues: Issue[] = [{ path: ['before'], message: 'kept' }]
  o.check({ a: 'x', c: { n: 'bad' } }, [], withIssues)
  t.same(withIssues.map((i) => fieldPath(i.path)), ['before', 'c.n'], "the caller's earlier issues kept, the nested one not twice")
})
