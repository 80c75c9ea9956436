/**
 * The spec's TypeScript type is the union of the kinds: a consumer compiling with --strict gets an error
 * for an unknown mode, a missing required field, a misspelt field or a field of another kind, and no
 * error for valid specs. Checked with the TypeScript compiler itself on two consumer files.
 */
import t from 'tap'
import ts from 'typescript'
import { fileURLToPath } from 'node:url'
import { consumerDiagnostics } from '../helpers/typecheck.js'

function diagnostics(file: string): readonly ts.Diagnostic[] {
  return consumerDiagnostics(fileURLToPath(new URL(`../types/${file}`, import.meta.url)))
}

t.test('valid specs compile without annotations', async (t) => {
  const d = diagnostics('consumer-good.ts')
  t.same(d.map((x) => ts.flattenDiagnosticMessageText(x.messageText, '\n')), [])
})

t.test('each bad spec is a compile error on its own line', async (t) => {
  const d = diagnostics('consumer-bad.ts')
  const lines = new Set(d.map((x) => (x.file && x.start !== undefined ? x.file.getLineAndCharacterOfPosition(x.start).line + 1 : 0)))
  // Lines 5-9 of consumer-bad.ts: 'natt', bridge without interface, ipv4.adress, forwards on isolated, queues on a macvtap port.
  t.same([...lines].sort((a, b) => a - b), [5, 6, 7, 8, 9])
})
