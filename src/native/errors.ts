import { KvmnetError, SystemError } from '../errors.js'

/** A system call failed on one item of a native batch (tapCreateMany); `index` says which. */
export class BatchItemError extends SystemError {
  override name = 'BatchItemError'
  readonly index: number
  constructor(init: { index: number; errno: number; syscall: string; path?: string; message?: string; cause?: unknown }) {
    super(init)
    this.index = init.index
  }
}

interface RawNativeError extends Error {
  errno: number
  syscall: string
  path?: unknown
  index?: unknown
}

function isRawNativeError(err: unknown): err is RawNativeError {
  return (
    err instanceof Error &&
    !(err instanceof KvmnetError) &&
    typeof (err as Partial<RawNativeError>).errno === 'number' &&
    typeof (err as Partial<RawNativeError>).syscall === 'string'
  )
}

/**
 * Turns an error thrown by the addon into SystemError (or BatchItemError), keeping the addon's message
 * (it names the operation and the object) and the original as `cause`. Anything else is returned as is:
 * TypeErrors for wrong calls, and errors thrown by JS callbacks run inside withNetns.
 */
export function mapNativeError(err: unknown): unknown {
  if (!isRawNativeError(err)) return err
  const init = {
    errno: err.errno,
    syscall: err.syscall,
    message: err.message,
    cause: err,
    ...(typeof err.path === 'string' ? { path: err.path } : {}),
  }
  if (typeof err.index === 'number') return new BatchItemError({ ...init, index: err.index })
  return new SystemError(init)
}
