/**
 * The README's TypeScript examples compile as written against the current API (strict), with `kvmnet`
 * resolved to this checkout's sources.
 */
import t from 'tap'
import ts from 'typescript'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { consumerDiagnostics } from '../helpers/typecheck.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')

t.test('the README has TypeScript examples', async (t) => {
  t.ok(snippets.length > 0)
})

snippets.forEach((code, i) => {
  t.test(`README example ${i + 1} compiles`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kvmnet-readme-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, `example-${i}.mts`)
    writeFileSync(file, `${code}\nexport {}\n`)
    const errors = consumerDiagnostics(file, { typeRoots: [join(root, 'node_modules/@types')], baseUrl: root, paths: { kvmnet: ['src/index.ts'] } })
    t.same(errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [])
  })
})
