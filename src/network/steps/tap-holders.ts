/**
 * Which processes hold a tap open: every open /dev/net/tun fd shows the device it is attached to as
 * `iff:` in /proc/PID/fdinfo/FD. Removing a tap QEMU still uses would cut a running guest off.
 */
import { readFile, readdir, readlink } from 'node:fs/promises'
import { InUseError } from '../../errors.js'

export async function tapHolders(name: string, except: ReadonlySet<string> = new Set()): Promise<number[]> {
  const pids = new Set<number>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[])
    for (const fd of fds) {
      if (except.has(`${entry}/${fd}`)) continue
      const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '')
      if (target !== '/dev/net/tun') continue
      const info = await readFile(`/proc/${entry}/fdinfo/${fd}`, 'utf8').catch(() => '')
      if (new RegExp(`^iff:\\s*${name.replace(/[.]/g, '\\.')}\\s*$`, 'm').test(info)) pids.add(Number(entry))
    }
  }
  return [...pids]
}

/** A tap that a process other than this handle still holds open (QEMU, or fds taken) is not removed. */
export async function assertTapFree(name: string, ownKeys: ReadonlySet<string>): Promise<void> {
  const holders = await tapHolders(name, ownKeys)
  if (holders.length > 0) throw new InUseError(`port ${name}`, holders, 'stop the guest first, or pass { force: true }')
}
