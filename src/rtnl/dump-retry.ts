/**
 * A dump the kernel flags NLM_F_DUMP_INTR (the table changed while it was being walked: entries may be
 * missing or doubled) is asked for again; one that stays interrupted for MAX_DUMP_ATTEMPTS attempts in a
 * row is an error, never a silently inconsistent answer (vishvananda/netlink's ErrDumpInterrupted).
 */
import { DumpInterruptedError } from '../errors.js'

export const MAX_DUMP_ATTEMPTS = 5

export interface DumpAttempt<T> {
  replies: T[]
  interrupted: boolean
}

export async function dumpConsistently<T>(attempt: () => Promise<DumpAttempt<T>>, op: string, max = MAX_DUMP_ATTEMPTS): Promise<T[]> {
  for (let i = 1; ; i++) {
    const r = await attempt()
    if (!r.interrupted) return r.replies
    if (i >= max) throw new DumpInterruptedError(op, i)
  }
}
