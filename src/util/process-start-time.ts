import { readFileSync } from 'node:fs'

/**
 * Start time of a process (field 22 of /proc/PID/stat, clock ticks after boot), or undefined when there is
 * no such process. With the pid it names one process across pid reuse: kvmnet checks it before it signals
 * a dnsmasq it did not spawn, and before it declares a network's owner dead.
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    // Synchronously: /proc never waits for a disk (asynchronously, four trips through the thread pool).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}
