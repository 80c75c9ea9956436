/**
 * `ss` as a test oracle for doctor's listening sockets (which it reads from the kernel itself): one line
 * of `ss -Hln{u,t}p` as a Listener.
 */
import type { Listener } from '../../src/doctor/listeners.js'

/** One line of `ss -Hln{u,t}p` (fields: state, recv-q, send-q, local, peer, users). */
export function parseListener(line: string, proto: 'udp' | 'tcp'): Listener | undefined {
  const local = line.trim().split(/\s+/)[3]
  if (!local) return undefined
  const at = local.lastIndexOf(':')
  if (at <= 0) return undefined
  const host = local.slice(0, at)
  const pct = host.indexOf('%')
  const addr = (pct < 0 ? host : host.slice(0, pct)).replace(/^\[|\]$/g, '')
  const device = pct < 0 ? undefined : host.slice(pct + 1).replace(/\]$/, '')
  const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(line)
  return { proto, addr, ...(device ? { device } : {}), port: Number(local.slice(at + 1)), ...(m ? { comm: m[1], pid: Number(m[2]) } : {}) }
}

