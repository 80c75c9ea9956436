/**
 * One face per folder: a file under src/<folder>/ imports another folder only through that folder's
 * index.ts (its face), never one of its internal files, and the import graph has no cycle. Read from the
 * syntax tree of every file (TypeScript's parser), type-only imports included: a type reached through a
 * folder's internals is a reach-in all the same. The top-level files (errors.ts, index.ts, core.ts,
 * wire.ts) are faces of their own.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = fileURLToPath(new URL('../..', import.meta.url))
const src = join(root, 'src')

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return walk(p)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : []
  })
}

/** Relative imports and re-exports of a file, resolved to src-relative .ts paths. */
function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const out: string[] = []
  const visit = (n: ts.Node) => {
    const spec =
      (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)
        ? n.moduleSpecifier.text
        : ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])
          ? n.arguments[0].text
          : ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)
            ? n.argument.literal.text
            : undefined
    if (spec?.startsWith('.')) out.push(relative(src, normalize(join(dirname(file), spec.replace(/\.js$/, '.ts')))))
    ts.forEachChild(n, visit)
  }
  visit(sf)
  return out
}

const files = walk(src).map((f) => relative(src, f))
const graph = new Map(files.map((f) => [f, importsOf(join(src, f))]))
const folderOf = (f: string) => (f.includes('/') ? f.split('/')[0] : undefined)

t.test('a folder is reached only through its index.ts', async (t) => {
  const reachIns: string[] = []
  for (const [from, deps] of graph) {
    for (const to of deps) {
      const target = folderOf(to)
      if (target === undefined || target === folderOf(from)) continue
      if (to !== `${target}/index.ts`) reachIns.push(`${from} -> ${to}`)
    }
  }
  t.same(reachIns, [], 'no import reaches into another folder past its index.ts')
})

t.test('no import cycle', async (t) => {
  // Tarjan's strongly connected components: any of more than one file is a cycle.
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const connect = (v: string) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        c.push(w)
      } while (w !== v)
      if (c.length > 1) cycles.push(c.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) connect(v)
  t.same(cycles, [], 'the import graph is acyclic')
})

t.test('every import resolves to a file (the graph above is complete)', async (t) => {
  const missing = [...graph].flatMap(([from, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${from} -> ${d}`))
  t.same(missing, [])
})
