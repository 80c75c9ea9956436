/** The kvmnet@.service template as text (golden), and systemd's ExecStart quoting. */
import t from 'tap'
import { quoteExecWord, renderTemplateUnit } from '../../src/systemd/unit.js'

t.test('ExecStart words are quoted only when they must be', async (t) => {
  t.equal(quoteExecWord('/usr/bin/node'), '/usr/bin/node')
  t.equal(quoteExecWord('/etc/kvmnet/%i.json'), '/etc/kvmnet/%i.json')
  t.equal(quoteExecWord('/opt/my app/cli.js'), '"/opt/my app/cli.js"')
  t.equal(quoteExecWord('a"b\\c'), '"a\\"b\\\\c"')
  t.equal(quoteExecWord('/x/$HOME'), '"/x/$$HOME"', 'a dollar is not an environment variable for systemd')
})

t.test('the template unit', async (t) => {
  const unit = renderTemplateUnit({ node: '/usr/bin/node', cli: '/usr/lib/node_modules/kvmnet/dist/cli.js', specDir: '/etc/kvmnet', extraArgs: ['--state-root', '/run/kvmnet'] })
  t.equal(
    unit.split('\n').find((l) => l.startsWith('ExecStart=')),
    'ExecStart=/usr/bin/node /usr/lib/node_modules/kvmnet/dist/cli.js up --foreground /etc/kvmnet/%i.json --state-root /run/kvmnet',
  )
  t.match(unit, /^# Installed by `kvmnet enable`/, 'the header disable checks before removing the template')
  for (const line of ['[Unit]', '[Service]', '[Install]', 'Type=exec', 'Restart=on-failure', 'KillMode=mixed', 'WantedBy=multi-user.target', 'Before=network-online.target', 'ConditionPathExists=/etc/kvmnet/%i.json', 'SyslogIdentifier=kvmnet-%i']) {
    t.ok(unit.split('\n').includes(line), line)
  }
  t.match(unit, /^After=nftables\.service firewalld\.service ufw\.service docker\.service network-pre\.target$/m)
})
