/**
 * Scratch directories for a test file (spec files, DHCP client scripts), under the system's temp dir and
 * removed when the test process exits, whether its tests passed or not: a long CI host otherwise gathers
 * one directory per test file per run.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made: string[] = []

process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

/** A new directory named `<prefix>XXXXXX` (mode 0700), removed at process exit. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}
