/**
 * The state directory's files: written whole (rename) so dnsmasq never reads half a hosts file on SIGHUP.
 * kvmnet and dnsmasq open these as root: nothing here goes through a symbolic link (a temporary file is
 * created exclusively, a link where dnsmasq will open its lease, pid or log file is refused).
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { rm, rmdir, writeFile } from 'node:fs/promises'
import { StateError, isExists } from '../errors.js'
import type { DnsmasqPaths } from './paths.js'
import type { RenderedConfig } from './render.js'

// World-readable: a dnsmasq that dropped to 'nobody' re-reads the hosts files with those credentials.
const FILE_MODE = 0o644
const DIR_MODE = 0o755

/** `text` into a new file at `path` (O_CREAT|O_EXCL: never through a link); one left by a dead writer of this pid is replaced. */
export async function writeNew(path: string, text: string, mode: number): Promise<void> {
  try {
    await writeFile(path, text, { mode, flag: 'wx' })
  } catch (err) {
    if (!isExists(err)) throw err
    await rm(path, { force: true })
    await writeFile(path, text, { mode, flag: 'wx' })
  }
}

/** The directory and the files dnsmasq opens as root (following links): a symbolic link among them is refused. */
function refuseLinks(paths: DnsmasqPaths): void {
  for (const p of [paths.dir, paths.leaseFile, paths.pidFile, paths.logFile]) {
    if (lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()) throw new StateError(p, 'is a symbolic link: kvmnet does not follow links in its state directories (remove it)')
  }
}

/** writeNew, synchronously (see writeConfigFiles). */
function writeNewSync(path: string, text: string, mode: number): void {
  try {
    writeFileSync(path, text, { mode, flag: 'wx' })
  } catch (err) {
    if (!isExists(err)) throw err
    rmSync(path, { force: true })
    writeFileSync(path, text, { mode, flag: 'wx' })
  }
}

function writeWholeSync(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeNewSync(tmp, text, FILE_MODE)
  renameSync(tmp, path)
}

/**
 * Synchronously, like a network's state file: three files of a few hundred bytes. Asynchronously they were
 * a dozen trips through the thread pool before dnsmasq could be spawned — the longest branch of an apply —
 * and each trip let the apply's other steps run first.
 */
export async function writeConfigFiles(paths: DnsmasqPaths, r: RenderedConfig): Promise<void> {
  mkdirSync(paths.dir, { recursive: true, mode: DIR_MODE })
  refuseLinks(paths)
  writeWholeSync(paths.hostsFile, r.hostsFile)
  writeWholeSync(paths.addnHosts, r.addnHosts)
  writeWholeSync(paths.conf, r.conf)
}

/**
 * The hosts files of `r` that differ from `current` (what readConfigFiles found): dnsmasq re-reads both on
 * SIGHUP whether or not they changed, so an unchanged one (the DNS records of a network without DNS, or of
 * a reservation without a name) is not rewritten — a create, write and rename fewer on a CNI ADD or DEL.
 */
export async function writeHostsFiles(paths: DnsmasqPaths, r: RenderedConfig, current?: RenderedConfig): Promise<void> {
  if (r.hostsFile !== current?.hostsFile) writeWholeSync(paths.hostsFile, r.hostsFile)
  if (r.addnHosts !== current?.addnHosts) writeWholeSync(paths.addnHosts, r.addnHosts)
}

/** What is on disk now, for comparing with a new render. */
export async function readConfigFiles(paths: DnsmasqPaths): Promise<RenderedConfig> {
  // Synchronously, like their writes: three small files read on every reload (every CNI ADD and DEL), where
  // each asynchronous read is four trips through the thread pool.
  return { conf: readOrEmpty(paths.conf), hostsFile: readOrEmpty(paths.hostsFile), addnHosts: readOrEmpty(paths.addnHosts) }
}

/** The config file alone (an adopted dnsmasq's user is all that is read from it), as readConfigFiles reads it. */
export function readConfFile(paths: DnsmasqPaths): string {
  return readOrEmpty(paths.conf)
}

/** A file that cannot be read reads as '' (it differs from any render, so a reload writes it). */
function readOrEmpty(p: string): string {
  try {
    return readFileSync(p, 'utf8')
  } catch {
    return ''
  }
}

/** Remove every file kvmnet put in the state dir, then the dir if nothing else is in it. */
export async function removeStateFiles(paths: DnsmasqPaths): Promise<void> {
  for (const p of [paths.conf, paths.hostsFile, paths.addnHosts, paths.leaseFile, paths.pidFile, paths.logFile, paths.oldLogFile]) {
    await rm(p, { force: true })
  }
  await rmdir(paths.dir).catch((err: NodeJS.ErrnoException) => {
    // Someone else's file in the directory is not ours to delete.
    if (err.code !== 'ENOENT' && err.code !== 'ENOTEMPTY') throw err
  })
}
