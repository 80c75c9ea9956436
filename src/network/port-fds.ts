/**
 * The fds of non-persistent taps a handle made: a tap lives exactly as long as someone holds one, so the
 * handle keeps them until the port goes, the network goes down, or a VM manager takes them over.
 */
import { closeSync } from 'node:fs'
import { NotFoundError } from '../errors.js'

/** A tap fd to close; one already closed (EBADF) is already what closing it wants. */
export function closeFd(fd: number): void {
  try {
    closeSync(fd)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EBADF') throw err
  }
}

export function closeAll(fds: ReadonlyMap<string, readonly number[]>): void {
  for (const f of fds.values()) for (const fd of f) closeFd(fd)
}

export class PortFds {
  private readonly byPort = new Map<string, number[]>()

  of(name: string): readonly number[] {
    return this.byPort.get(name) ?? []
  }

  /** Process-wide keys (`pid/fd`) of a port's fds: holders that are this handle, not a guest. */
  ownKeys(name: string): Set<string> {
    return new Set(this.of(name).map((fd) => `${process.pid}/${fd}`))
  }

  /** Fds an apply made become the handle's (a port made again: the old fds are of a device that is gone). */
  adopt(made: ReadonlyMap<string, number[]>): void {
    for (const [name, f] of made) {
      for (const fd of this.of(name)) if (!f.includes(fd)) closeFd(fd)
      this.byPort.set(name, f)
    }
  }

  /** Ports the plan no longer has were deleted: their fds go with them. */
  keepOnly(planned: ReadonlySet<string>): void {
    for (const name of [...this.byPort.keys()]) if (!planned.has(name)) this.drop(name)
  }

  /** Close a port's fds. */
  drop(name: string): void {
    for (const fd of this.of(name)) closeFd(fd)
    this.byPort.delete(name)
  }

  /** Hand a port's fds over: forgotten, never closed here. */
  take(name: string): number[] {
    const fds = this.byPort.get(name)
    if (!fds) throw new NotFoundError(`fds of port ${name}`, `this handle holds no fds for ${name} (persistent, or already taken)`)
    this.byPort.delete(name)
    return fds
  }

  dropAll(): void {
    closeAll(this.byPort)
    this.byPort.clear()
  }
}
