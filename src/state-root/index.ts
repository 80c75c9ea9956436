/**
 * The state root, checked before anything is touched. kvmnet runs as root and writes there (a lock it
 * truncates, dnsmasq's files it chmods, a log dnsmasq appends to): a root that another user owns or can
 * write could hold their symbolic links, so it is refused, as is one that is not a directory, not absolute,
 * or that dnsmasq's config cannot name. Each error is a SpecError naming the option as the caller spells it
 * (`--state-root` for the CLI, `stateRoot` for the API).
 */
import { mkdirSync, readFileSync, statSync, type Stats } from 'node:fs'
import { dirname, isAbsolute } from 'node:path'
import { SpecError, isExists, isNotFound } from '../errors.js'

/** What dnsmasq takes in a config path (dnsmasq's stateDir rule): its files live under the root. */
const PATH_CHARS = /^\/[A-Za-z0-9._/+-]*$/

const S_IWGRP = 0o020
const S_IWOTH = 0o002
const S_ISVTX = 0o1000

/** '/a/b/c' -> ['/', '/a', '/a/b', '/a/b/c']. */
function prefixes(path: string): string[] {
  const out: string[] = []
  for (let p = path; ; p = dirname(p)) {
    out.unshift(p)
    if (p === '/') return out
  }
}

function statOrUndefined(path: string, field: string): Stats | undefined {
  try {
    return statSync(path)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw new SpecError(field, `${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/**
 * What is wrong with a state root's shape (the characters dnsmasq's config can name, no '..'), checked
 * without the filesystem; undefined when nothing is. The caller names the field.
 */
export function stateRootShapeProblem(root: string): string | undefined {
  if (PATH_CHARS.test(root) && !root.split('/').includes('..')) return undefined
  return `'${root}': dnsmasq's files live under the state root, and its config takes only letters, digits and ._/+- (no '..')`
}

/** The checks that create nothing: shape, every existing part a directory, ownership and write bits. */
export function checkStateRoot(root: string, field: string): void {
  checkedAndPresent(root, field)
}

/** checkStateRoot's checks; true when every part of the root exists already (nothing to make). */
function checkedAndPresent(root: string, field: string): boolean {
  if (!isAbsolute(root)) throw new SpecError(field, `'${root}' is not an absolute path`)
  const shape = stateRootShapeProblem(root)
  if (shape) throw new SpecError(field, shape)
  const me = process.geteuid?.() ?? 0
  const dirs = prefixes(root)
  for (const [i, dir] of dirs.entries()) {
    const st = statOrUndefined(dir, field)
    if (!st) return false
    if (!st.isDirectory()) throw new SpecError(field, `${root}: ${dir} is not a directory`)
    // Another user's links are a danger to a process that follows them as root; any other user gets
    // "needs root" from the kernel first.
    if (me !== 0) continue
    const othersWrite = (st.mode & (S_IWGRP | S_IWOTH)) !== 0
    if (i === dirs.length - 1) {
      if (st.uid !== me) throw new SpecError(field, `${root} belongs to uid ${st.uid}, not to this user (uid ${me}): kvmnet keeps its state only in a directory of its own`)
      if (othersWrite) throw new SpecError(field, `${root} is writable by others (mode ${(st.mode & 0o7777).toString(8)}): kvmnet keeps its state only in a directory no one else can write (chmod go-w ${root})`)
    } else {
      if (st.uid !== 0 && st.uid !== me) throw new SpecError(field, `${root}: ${dir} on the way belongs to uid ${st.uid}, who could replace what is below it`)
      if (othersWrite && (st.mode & S_ISVTX) === 0) throw new SpecError(field, `${root}: ${dir} on the way is writable by others without the sticky bit (mode ${(st.mode & 0o7777).toString(8)}), who could replace what is below it`)
    }
  }
  return true
}

/**
 * checkStateRoot, then the missing parts of the root made (0755, one level at a time: a recursive mkdir
 * under /proc never returns): a root that cannot be made is refused before the network is touched.
 */
export function prepareStateRoot(root: string, field: string): void {
  // Every part there already (every apply but a first): no mkdir, and no EEXIST error built for each part.
  if (checkedAndPresent(root, field)) return
  for (const dir of prefixes(root)) {
    try {
      mkdirSync(dir, { mode: 0o755 })
    } catch (err) {
      if (isExists(err)) continue
      // Not root: a missing privilege, which the CLI says as such ("needs root"), not a bad state root.
      const code = (err as NodeJS.ErrnoException).code
      if (process.geteuid?.() !== 0 && (code === 'EACCES' || code === 'EPERM')) throw err
      throw new SpecError(field, `cannot make ${dir} for ${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
  }
}

/** uid, gid and groups of a user from /etc/passwd and /etc/group; undefined when there is no such user. */
function userIds(user: string): { uid: number; gids: Set<number> } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === user)
  if (!line) return undefined
  const [, , uid, gid] = line.split(':')
  const gids = new Set([Number(gid)])
  for (const g of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [, , id, members] = g.split(':')
    if (members?.split(',').includes(user)) gids.add(Number(id))
  }
  return { uid: Number(uid), gids }
}

/**
 * A detached dnsmasq drops to `user` (nobody) and then re-reads its reservations and DNS records from
 * under the state root on every reload: a directory on the way that `user` cannot traverse (a 0700
 * parent) would lose them silently. Refused with the ways out.
 */
export function checkReachableBy(root: string, user: string, field: string): void {
  const ids = userIds(user)
  if (!ids) return
  for (const dir of prefixes(root)) {
    const st = statOrUndefined(dir, field)
    // Parts kvmnet makes are 0755.
    if (!st) return
    const bit = st.uid === ids.uid ? 0o100 : ids.gids.has(st.gid) ? 0o010 : 0o001
    if ((st.mode & bit) === 0)
      throw new SpecError(
        field,
        `${dir} (mode ${(st.mode & 0o7777).toString(8)}) is closed to ${user}, the user a detached dnsmasq runs as: it re-reads the network's reservations and DNS records under ${root} and would lose them. Use a state root ${user} can reach (e.g. under /run), let it through (chmod o+x ${dir}), or run up --foreground (its dnsmasq keeps root)`,
      )
  }
}
