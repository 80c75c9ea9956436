/** The kvmnet@.service template as text (golden), and systemd's ExecStart quoting. */
import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { execWord, renderTemplateUnit } from '../../src/systemd/unit.js'

t.test('ExecStart words are quoted only when they must be', async (t) => {
  t.equal(execWord('/usr/bin/node', 'node'), '/usr/bin/node')
  t.equal(execWord('/opt/my app/cli.js', 'cli'), '"/opt/my app/cli.js"')
  t.equal(execWord('a"b\\c', 'x'), '"a\\"b\\\\c"')
  t.equal(execWord('/x/$HOME', 'x'), '"/x/$$HOME"', 'a dollar is not an environment variable for systemd')
  t.equal(execWord("/x/it's", 'x'), '"/x/it\'s"', 'a single quote inside double quotes')
})

t.test("a literal '%' is not a specifier: doubled, quoted or not", async (t) => {
  t.equal(execWord('/run/a%hb', '--state-root'), '/run/a%%hb')
  t.equal(execWord('/run/a %i', '--state-root'), '"/run/a %%i"')
})

t.test('a word with a line break or another control character is refused, naming the option', async (t) => {
  for (const word of ['/run/a\nExecStartPre=/bin/touch /tmp/x', '/run/a\rb', '/run/a\tb', '/run/a\0b', '/run/a\x7fb', '/run/a\u2028b', '/run/a\u0085b']) {
    const err = (() => {
      try {
        return execWord(word, '--state-root')
      } catch (e) {
        return e
      }
    })()
    // Named with its code points escaped: a raw U+2028 would break the TAP stream itself.
    t.type(err, SpecError, word.replace(/[^ -~]/g, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`))
    t.equal((err as SpecError).field, '--state-root')
  }
})

t.test('the template unit', async (t) => {
  const unit = renderTemplateUnit({ node: '/usr/bin/node', cli: '/usr/lib/node_modules/kvmnet/dist/cli.js', specDir: '/etc/kvmnet', stateRoot: '/run/kvmnet' })
  t.equal(
    unit.split('\n').find((l) => l.startsWith('ExecStart=')),
    'ExecStart=/usr/bin/node /usr/lib/node_modules/kvmnet/dist/cli.js up --foreground /etc/kvmnet/%i.json --state-root /run/kvmnet',
  )
  t.match(unit, /^# Installed by `kvmnet enable`/, 'the header disable checks before removing the template')
  for (const line of ['[Unit]', '[Service]', '[Install]', 'Type=exec', 'Restart=on-failure', 'KillMode=mixed', 'WantedBy=multi-user.target', 'Before=network-online.target', 'ConditionPathExists=/etc/kvmnet/%i.json', 'SyslogIdentifier=kvmnet-%i', 'ExecReload=/bin/kill -HUP $MAINPID']) {
    t.ok(unit.split('\n').includes(line), line)
  }
  t.match(unit, /^After=nftables\.service firewalld\.service ufw\.service docker\.service network-pre\.target$/m)
})

t.test('--netns and --state-root with specifiers, quotes and spaces: one ExecStart line, every % doubled', async (t) => {
  const unit = renderTemplateUnit({ node: '/usr/bin/node', cli: '/opt/kv%m/cli.js', specDir: '/etc/kvmnet', netns: '/run/netns/a%i', stateRoot: '/srv/my "state" %h' })
  t.equal(
    unit.split('\n').find((l) => l.startsWith('ExecStart=')),
    'ExecStart=/usr/bin/node /opt/kv%%m/cli.js up --foreground /etc/kvmnet/%i.json --netns /run/netns/a%%i --state-root "/srv/my \\"state\\" %%h"',
  )
  t.same(unit.split('\n').filter((l) => l.startsWith('Exec')).map((l) => l.split('=')[0]), ['ExecStart', 'ExecReload'], 'one ExecStart line (and the fixed ExecReload)')
  const err = (() => {
    try {
      return renderTemplateUnit({ node: '/usr/bin/node', cli: '/x/cli.js', specDir: '/etc/kvmnet', netns: '/run/netns/x\nExecStartPre=/bin/true' })
    } catch (e) {
      return e
    }
  })()
  t.type(err, SpecError)
  t.equal((err as SpecError).field, '--netns')
})
