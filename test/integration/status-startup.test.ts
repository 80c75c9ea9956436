/**
 * `kvmnet status` / `list` on a host where no network is recorded (no state root) are answered by the
 * program itself (dist/cli.cjs, commands/status-empty.ts), without loading the CLI's bundle or the
 * library's core; with a state root there, a NAME, or a bad argument, the full command runs and answers
 * as before. A preloaded script records the files the process opens.
 */
import t from 'tap'
import { execa } from 'execa'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs } from '../helpers/ns.js'
import { scratchDir } from '../helpers/scratch.js'

const cli = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url))
const PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'
const dir = scratchDir('kvmnet-status-startup-')
const preload = join(dir, 'opens.cjs')
// Every path given to fs.openSync / readFileSync (how the program loads its bundle and its code cache).
writeFileSync(
  preload,
  `const fs = require('fs')
const seen = []
for (const f of ['openSync', 'readFileSync']) {
  const orig = fs[f]
  fs[f] = function (p, ...rest) { if (typeof p === 'string') seen.push(p); return orig.call(this, p, ...rest) }
}
process.on('exit', () => require('fs').writeFileSync(process.env.KVMNET_TEST_OPENS, seen.join('\\n')))
`,
)

let n = 0
/** One run of dist/cli.cjs (through `env -i`: no NODE_OPTIONS from tap), and the kvmnet files it opened. */
async function run(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; loaded: string[] }> {
  const list = join(dir, `opens-${n++}.txt`)
  const r = await execa('env', ['-i', `PATH=${PATH}`, `KVMNET_TEST_OPENS=${list}`, 'node', '-r', preload, cli, ...args], { reject: false })
  const loaded = readFileSync(list, 'utf8')
    .split('\n')
    .filter((p) => /\/dist\/(cli-bundle|core)\.cjs$/.test(p))
    .map((p) => p.split('/').at(-1) ?? p)
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, loaded: [...new Set(loaded)] }
}

t.test('no state root: status and list answer without the bundle', async (t) => {
  const ns = await makeNs(t, 'kvst')
  const absent = `/run/kvmnet-test/${ns.name}-absent`
  const text = await run(['status', '--netns', ns.path, '--state-root', absent])
  t.equal(text.exitCode, 0, text.stderr)
  t.equal(text.stdout, `no kvmnet networks in ${ns.path}`)
  t.same(text.loaded, [], 'status: neither cli-bundle.cjs nor core.cjs opened')
  const json = await run(['status', '--json', '--netns', ns.name, '--state-root', absent])
  t.equal(json.stdout, '[]')
  t.same(json.loaded, [])
  const list = await run(['list', '--state-root', absent])
  t.equal(list.stdout, 'no kvmnet networks in any namespace')
  t.same(list.loaded, [])
  const all = await run(['status', '--all', '--json', '--state-root', absent])
  t.equal(all.stdout, '[]')
  t.same(all.loaded, [])
})

t.test('what the light answer cannot give: the full command runs, with its words and exit codes', async (t) => {
  const ns = await makeNs(t, 'kvst')
  const absent = `/run/kvmnet-test/${ns.name}-absent`
  // A NAME must be found: not there, exit 1 and the command's own line.
  const named = await run(['status', 'kvstnet', '--netns', ns.path, '--state-root', absent])
  t.equal(named.exitCode, 1)
  t.match(named.stderr, /no network named kvstnet/)
  t.same(named.loaded, ['cli-bundle.cjs'])
  const namedJson = await run(['status', 'bad name!', '--json', '--state-root', absent])
  t.equal(namedJson.exitCode, 2, 'a NAME no network can have is bad input')
  // Bad arguments are worded by the bundle as for every command (exit 2), never answered as "no networks".
  const badNs = await run(['status', '--netns', `${ns.name}-missing`, '--state-root', absent])
  t.equal(badNs.exitCode, 2)
  t.match(badNs.stderr, /--netns: no network namespace/)
  const badRoot = await run(['status', '--json', '--state-root', '/run/kvmnet-test/a b'])
  t.equal(badRoot.exitCode, 2)
  t.match(JSON.parse(badRoot.stderr), { error: { field: '--state-root' } })
  const unknown = await run(['list', '--bogus'])
  t.equal(unknown.exitCode, 2)
  t.match(unknown.stderr, /--bogus/)
  const badWait = await run(['status', '--wait', 'soon', '--state-root', absent])
  t.equal(badWait.exitCode, 2)
  t.match(badWait.stderr, /--wait/)
  // A state root that exists (empty here): the full command looks, and finds nothing.
  const present = `/run/kvmnet-test/${ns.name}-present`
  mkdirSync(present, { recursive: true, mode: 0o755 })
  t.teardown(() => rmSync(present, { recursive: true, force: true }))
  const looked = await run(['status', '--netns', ns.path, '--state-root', present])
  t.equal(looked.exitCode, 0, looked.stderr)
  t.equal(looked.stdout, `no kvmnet networks in ${ns.path}`)
  t.same(looked.loaded, ['cli-bundle.cjs'], 'with a state root, the command itself ran')
})
