/**
 * kvmnet-cni reads its configuration and writes its result through file descriptors 0/1/2 (src/cni/
 * stdio.ts), not Node's stream objects: the ways a runtime hands those over must all still work — a pipe
 * written late and closed, stdin and stdout left non-blocking by the parent (EAGAIN: the stream takes
 * over), a result larger than a pipe's buffer, stdin closed or /dev/null, and output to a regular file.
 * VERSION reads stdin and writes a result like every command, and needs no namespace.
 */
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PLUGIN, pluginMissing } from '../helpers/cni-runtime/index.js'

const skip = pluginMissing() ?? false

/**
 * The plugin run by a python3 parent that can do what Node's spawn cannot: make the fds non-blocking and
 * write stdin late. `writeAfterMs` delays the configuration (the plugin's first read finds nothing).
 */
function viaPython(o: { config: string; nonBlockingIn?: boolean; nonBlockingOut?: boolean; writeAfterMs?: number }): { code: number; stdout: string; stderr: string } {
  const script = `
import os, sys, time, subprocess
r, w = os.pipe()
outr, outw = os.pipe()
if ${o.nonBlockingIn ? 'True' : 'False'}: os.set_blocking(r, False)
if ${o.nonBlockingOut ? 'True' : 'False'}: os.set_blocking(outw, False)
env = dict(os.environ, CNI_COMMAND='VERSION')
p = subprocess.Popen([sys.argv[1], sys.argv[2]], stdin=r, stdout=outw, stderr=subprocess.PIPE, env=env)
os.close(r); os.close(outw)
time.sleep(${(o.writeAfterMs ?? 0) / 1000})
data = sys.stdin.buffer.read()
while data:
    data = data[os.write(w, data):]
os.close(w)
out = b''
while True:
    chunk = os.read(outr, 65536)
    if not chunk: break
    out += chunk
err = p.stderr.read()
code = p.wait()
sys.stdout.write(str(code) + '\\n' + out.decode() + '\\0' + err.decode())
`
  const text = execFileSync('python3', ['-c', script, process.execPath, PLUGIN], { input: o.config, encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } })
  const nl = text.indexOf('\n')
  const [stdout, stderr] = text.slice(nl + 1).split('\0')
  return { code: Number(text.slice(0, nl)), stdout: stdout ?? '', stderr: stderr ?? '' }
}

const answer = (v: string) => ({ cniVersion: v, supportedVersions: ['1.0.0', '1.1.0'] })

t.test('a pipe written late, blocking and non-blocking', { skip }, async (t) => {
  for (const nonBlockingIn of [false, true]) {
    for (const nonBlockingOut of [false, true]) {
      const r = viaPython({ config: '{"cniVersion":"1.0.0"}', nonBlockingIn, nonBlockingOut, writeAfterMs: 300 })
      const what = `stdin ${nonBlockingIn ? 'non-blocking' : 'blocking'}, stdout ${nonBlockingOut ? 'non-blocking' : 'blocking'}`
      t.equal(r.code, 0, `${what}: exit 0 (${r.stderr.trim()})`)
      t.same(JSON.parse(r.stdout), answer('1.0.0'), `${what}: the answer`)
    }
  }
})

t.test('a large configuration through a pipe', { skip }, async (t) => {
  // Over a pipe's 64 KiB: several reads until end of file, whichever way the fd is.
  const config = JSON.stringify({ cniVersion: '1.1.0', padding: 'x'.repeat(300_000) })
  for (const nonBlockingIn of [false, true]) {
    const r = viaPython({ config, nonBlockingIn, writeAfterMs: 100 })
    t.equal(r.code, 0, r.stderr)
    t.same(JSON.parse(r.stdout), answer('1.1.0'))
  }
})

t.test('stdin /dev/null or closed: an error result, not a crash', { skip }, async (t) => {
  const env = { ...process.env, CNI_COMMAND: 'VERSION', NODE_EXTRA_CA_CERTS: '' }
  const empty = spawnSync(process.execPath, [PLUGIN], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  // No input: VERSION answers for the latest version, as it did from an empty stream.
  t.equal(empty.status, 0, empty.stderr)
  t.same(JSON.parse(empty.stdout), answer('1.1.0'))
  const closed = spawnSync('sh', ['-c', `exec "${process.execPath}" "${PLUGIN}" <&-`], { env: { ...env, CNI_COMMAND: 'ADD' }, encoding: 'utf8' })
  t.not(closed.status, 0)
  t.match(closed.stdout, /"code":/, 'a CNI error result')
  t.match(closed.stderr, /kvmnet-cni: /)
})

t.test('stdout a regular file', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-cni-stdio-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.json')
  execFileSync('sh', ['-c', `echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "${process.execPath}" "${PLUGIN}" > "${file}"`], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } })
  t.same(JSON.parse(readFileSync(file, 'utf8')), answer('1.0.0'))
})
