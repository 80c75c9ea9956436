/**
 * kvmnet import-libvirt on the command line: the spec on stdout (JSON), notes on stderr, one line and exit 2
 * for what cannot carry over or is not well-formed XML; `-` reads stdin; --netns and --interface reach the spec.
 */
import t from 'tap'
import { execa } from 'execa'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fixtures = join(root, 'test/unit/fixtures/libvirt')
const cli = (args: string[], input?: string) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'import-libvirt', ...args], { cwd: root, reject: false, ...(input !== undefined ? { input } : {}) })

t.test("libvirt's default network: the spec on stdout, notes on stderr", async (t) => {
  const r = await cli([join(fixtures, 'default.xml'), '--netns', 'ki-demo'])
  t.equal(r.exitCode, 0)
  t.same(JSON.parse(r.stdout), { name: 'default', netns: 'ki-demo', bridge: 'virbr0', mode: 'nat', ipv4: { address: '192.168.122.1/24', dhcp: { range: ['192.168.122.2', '192.168.122.254'] } }, dns: { enabled: true } })
  t.match(r.stderr, /^kvmnet: note: <bridge stp='on'>/m)
})

t.test('- reads stdin; --interface imports a host bridge', async (t) => {
  const r = await cli(['-', '--interface', 'eth3'], '<network><name>hb</name><forward mode="bridge"/><bridge name="br0"/></network>')
  t.equal(r.exitCode, 0, r.stderr)
  t.same(JSON.parse(r.stdout), { name: 'hb', mode: 'bridge', bridge: 'br0', interface: 'eth3' })
})

t.test('what cannot carry over: one line naming element and attribute, exit 2', async (t) => {
  const r = await cli([join(fixtures, 'networkxml2xmlin/hostdev.xml')])
  t.equal(r.exitCode, 2)
  t.equal(r.stdout, '')
  t.match(r.stderr, /^kvmnet: <forward mode>: 'hostdev'[^\n]*$/)
  t.equal(r.stderr.trim().split('\n').length, 1)
  const j = await cli([join(fixtures, 'networkxml2confdata/dnsmasq-options.xml'), '--json'])
  t.equal(j.exitCode, 2)
  t.match(JSON.parse(j.stderr).error, { name: 'LibvirtImportError', element: '<dnsmasq:options>', attribute: '' })
})

t.test('malformed XML and a missing file are clear errors', async (t) => {
  const r = await cli(['-'], '<network><name>x</nam></network>')
  t.equal(r.exitCode, 2)
  t.match(r.stderr, /^kvmnet: \(xml\): not well-formed XML: 1:\d+: unexpected close tag/)
  const m = await cli([join(fixtures, 'nope.xml')])
  t.equal(m.exitCode, 2)
  t.match(m.stderr, /cannot read .*nope\.xml: ENOENT/)
  const u = await cli([])
  t.equal(u.exitCode, 2)
})
