/** File-system answers where "not there" is an answer, and anything else is an error. */
import { accessSync, constants, readdirSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** A file's text, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined
    throw err
  }
}

/** The names in a directory; none when it does not exist (nothing recorded there yet). */
export async function dirEntries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    const c = code(err)
    if (c === 'ENOENT' || c === 'ENOTDIR') return []
    throw err
  }
}

/** dirEntries for the small state directories read under a lock (see sysctl-ledger.ts). */
export function dirEntriesSync(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch (err) {
    const c = code(err)
    if (c === 'ENOENT' || c === 'ENOTDIR') return []
    throw err
  }
}

/** Whether `path` is there and this process may execute it. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch (err) {
    const c = code(err)
    if (c === 'ENOENT' || c === 'EACCES' || c === 'ENOTDIR') return false
    throw err
  }
}
