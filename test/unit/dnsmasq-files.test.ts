/**
 * The hosts files a SIGHUP reload writes: only those whose render differs from what is on disk (dnsmasq
 * re-reads both on the signal either way).
 */
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readConfFile, readConfigFiles, writeHostsFiles } from '../../src/dnsmasq/files.js'
import { dnsmasqPaths } from '../../src/dnsmasq/paths.js'

t.test('writeHostsFiles rewrites only the files that changed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-dnsmasq-files-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const paths = dnsmasqPaths(dir)
  writeFileSync(paths.conf, 'conf\n')
  writeFileSync(paths.hostsFile, '02:00:00:00:00:01,10.0.0.10\n')
  writeFileSync(paths.addnHosts, '')
  const current = await readConfigFiles(paths)
  const addnBefore = statSync(paths.addnHosts).ino
  const hostsBefore = statSync(paths.hostsFile).ino
  const next = { ...current, hostsFile: `${current.hostsFile}02:00:00:00:00:02,10.0.0.11\n` }
  await writeHostsFiles(paths, next, current)
  t.equal(readFileSync(paths.hostsFile, 'utf8'), next.hostsFile, 'the changed one is written')
  t.not(statSync(paths.hostsFile).ino, hostsBefore, 'by a new file renamed over it')
  t.equal(statSync(paths.addnHosts).ino, addnBefore, 'the unchanged one is left as it is')
  await writeHostsFiles(paths, { ...next, addnHosts: '10.0.0.11 a\n' })
  t.equal(readFileSync(paths.addnHosts, 'utf8'), '10.0.0.11 a\n', 'without what is on disk: both written')
})

t.test('readConfFile: the config file alone, as readConfigFiles reads it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-dnsmasq-files-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const paths = dnsmasqPaths(dir)
  t.equal(readConfFile(paths), '', 'none: empty, like readConfigFiles')
  writeFileSync(paths.conf, 'user=dnsmasq\n')
  t.equal(readConfFile(paths), 'user=dnsmasq\n')
  t.equal(readConfFile(paths), (await readConfigFiles(paths)).conf)
})
