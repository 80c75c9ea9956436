/**
 * A copy of the built package that another user can read, for the tests that run kvmnet as an
 * unprivileged user: a checkout may live under a 0700 directory (root's home), which that user cannot
 * traverse. The copy holds what the package ships and loads at run time — package.json, dist/, the
 * prebuilt addon and the runtime dependencies (their closure from package.json) — in a 0755 temporary
 * directory, made once per test process and removed when it exits.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const checkout = fileURLToPath(new URL('../..', import.meta.url))
let made: string | undefined

function runtimeDependencies(): string[] {
  const seen = new Set<string>()
  const visit = (name: string) => {
    if (seen.has(name)) return
    const pkg = join(checkout, 'node_modules', name, 'package.json')
    if (!existsSync(pkg)) return
    seen.add(name)
    const deps = (JSON.parse(readFileSync(pkg, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}
    for (const d of Object.keys(deps)) visit(d)
  }
  const own = (JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies
  for (const d of Object.keys(own)) visit(d)
  return [...seen]
}

/** The directory of the readable copy (its dist/cli.js is the kvmnet command, dist/index.js the library). */
export function readableCopy(): string {
  if (made) return made
  if (!existsSync(join(checkout, 'dist', 'cli.js'))) throw new Error('dist/ is not built: run npm run build (the README set-up does)')
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-readable-'))
  chmodSync(dir, 0o755)
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  for (const part of ['package.json', 'dist', 'prebuilds']) if (existsSync(join(checkout, part))) cpSync(join(checkout, part), join(dir, part), { recursive: true })
  for (const dep of runtimeDependencies()) cpSync(join(checkout, 'node_modules', dep), join(dir, 'node_modules', dep), { recursive: true })
  // A native build made in place (no prebuild for this machine) is where node-gyp-build looks next.
  const built = join(checkout, 'native', 'build', 'Release')
  if (existsSync(built)) cpSync(built, join(dir, 'native', 'build', 'Release'), { recursive: true })
  made = dir
  return dir
}
