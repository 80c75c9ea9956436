/** A reader that closes the pipe early (`kvmnet schema | head -c 20`): no stack trace, the shell's 141. */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

t.test('kvmnet schema into a pipe closed after 20 bytes', async (t) => {
  const r = spawnSync('bash', ['-c', 'set -o pipefail; node --import tsx "$0" schema | head -c 20 >/dev/null', main], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) })
  t.equal(r.stderr, '', 'nothing on stderr')
  t.equal(r.status, 141, 'the status of a command whose reader went away')
})
