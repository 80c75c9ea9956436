/**
 * A JSON golden file: `doc` as the file <dir>/<name>.json holds it (two-space JSON and a newline). With
 * KVMNET_UPDATE_GOLDEN=1 the file is rewritten (review the diff); a missing one is written and fails.
 */
import type { Test } from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function jsonGolden(t: Test, dir: string, name: string, doc: unknown): void {
  const file = join(dir, `${name}.json`)
  const text = `${JSON.stringify(doc, null, 2)}\n`
  const update = process.env['KVMNET_UPDATE_GOLDEN'] === '1'
  if (update || !existsSync(file)) {
    if (!update) t.fail(`missing golden file ${file} (written now; rerun)`)
    writeFileSync(file, text)
  }
  t.equal(text, readFileSync(file, 'utf8'), `${name}.json matches`)
}
