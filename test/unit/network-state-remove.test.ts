/** removeState: a network's directory removed whole, its parents only when asked and when empty. */
import t from 'tap'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeState } from '../../src/network/state.js'

function tree(t: { teardown(fn: () => void): void }): { root: string; ns: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'kvhb-state-'))
  t.teardown(() => void import('node:fs').then((fs) => fs.rmSync(root, { recursive: true, force: true })))
  const ns = join(root, 'ns-1')
  const dir = join(ns, 'net')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'network.json'), '{}')
  writeFileSync(join(dir, 'dnsmasq.conf'), '')
  return { root, ns, dir }
}

t.test('files only: the directory goes; parents: false keeps an empty namespace directory', async (t) => {
  const { ns, dir } = tree(t)
  await removeState(dir, { parents: false })
  t.notOk(existsSync(dir))
  t.ok(existsSync(ns), 'the namespace directory is the lock holder’s to remove')
})

t.test('with parents: empty ones go too, one still holding something stays', async (t) => {
  const a = tree(t)
  await removeState(a.dir)
  t.notOk(existsSync(a.ns), 'the empty namespace directory went')
  t.notOk(existsSync(a.root), 'and the empty root')
  const b = tree(t)
  writeFileSync(join(b.ns, 'net.lock'), '')
  await removeState(b.dir)
  t.notOk(existsSync(b.dir))
  t.ok(existsSync(b.ns), 'a namespace directory with a lock file in it stays')
})

t.test('a subdirectory inside, or no directory at all', async (t) => {
  const { dir } = tree(t)
  mkdirSync(join(dir, 'dnsmasq', 'deeper'), { recursive: true })
  writeFileSync(join(dir, 'dnsmasq', 'deeper', 'x'), 'x')
  await removeState(dir, { parents: false })
  t.notOk(existsSync(dir), 'removed whole, subdirectory included')
  await t.resolves(removeState(dir, { parents: false }), 'already gone: fine')
})
