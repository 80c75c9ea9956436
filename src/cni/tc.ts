/**
 * The tap attachment's wiring inside the container: every frame that arrives on one side (the tap, from
 * the VM; the inner veth end, from the bridge) is sent out of the other by a tc ingress filter (matchall,
 * mirred redirect) — no bridge in the container, so the tap's own MAC can be the guest's (which is what
 * KubeVirt copies into the domain) without the bridge dropping the guest's frames as its own.
 */
import { childProcess } from '../util/index.js'
import { CniCode, CniError } from './errors.js'

export function redirectBatch(a: string, b: string): string {
  return [
    `qdisc add dev ${a} ingress`,
    `filter add dev ${a} parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev ${b}`,
    `qdisc add dev ${b} ingress`,
    `filter add dev ${b} parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev ${a}`,
    '',
  ].join('\n')
}

/** `tc -batch -` inside the namespace at `netnsPath` (nsenter: the child lives there, this thread does not move). */
export function runTcBatch(netnsPath: string, batch: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // node:child_process is loaded here, by the tap attachment that runs tc, not by every veth ADD.
    const child = childProcess().spawn('nsenter', [`--net=${netnsPath}`, '--', 'tc', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', (err) => reject(new CniError(CniCode.Internal, 'tc failed', `nsenter/tc could not run: ${err.message}`)))
    child.on('close', (code) => {
      if (code === 0) resolve()
      else reject(new CniError(CniCode.Internal, 'tc failed', `tc -batch exited ${code}: ${stderr.trim()}`))
    })
    child.stdin.end(batch)
  })
}
