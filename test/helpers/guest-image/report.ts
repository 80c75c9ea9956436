/**
 * The guest's side of the protocol: its init prints `KVMNET-RESULT ...` lines on the serial console
 * (see init.sh and udhcpc.script) and this turns a whole console transcript into a structured result.
 * Lines are matched anywhere on a line because kernel messages may interleave with init's output.
 */

export interface GuestLease {
  ip: string
  prefix: number
  router?: string
  dns?: string[]
}

export interface GuestResults {
  lease?: GuestLease
  /** IP -> whether the guest got an echo reply. */
  pings: Record<string, boolean>
  /** tcpKey(host, port) -> whether the guest's connect() succeeded. */
  tcp: Record<string, boolean>
  /** The guest's MAC as it saw it on eth0. */
  mac?: string
  /** The global IPv6 address the guest's kernel configured by SLAAC (kvmnet.slaac). */
  addr6?: string
  /** Problems the guest itself reported ('no dhcp lease', 'no eth0', ...). */
  errors: string[]
  /** Init reached its end and powered off on purpose. */
  done: boolean
}

const MARK = 'KVMNET-RESULT '

/** The key `tcp` results use: `203.0.113.2:80`, `[2001:db8::1]:80`. */
export function tcpKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

function parseLease(words: readonly string[]): GuestLease | undefined {
  const kv = new Map(words.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]))
  const m = (kv.get('lease') ?? '').match(/^([0-9.]+)\/(\d{1,2})$/)
  if (!m) return undefined
  const lease: GuestLease = { ip: m[1]!, prefix: Number(m[2]) }
  const router = kv.get('router')
  if (router) lease.router = router
  const dns = kv.get('dns')
  if (dns) lease.dns = dns.split(',').filter(Boolean)
  return lease
}

export function parseGuestSerial(serial: string): GuestResults {
  const out: GuestResults = { pings: {}, tcp: {}, errors: [], done: false }
  for (const raw of serial.split(/\r?\n/)) {
    const at = raw.indexOf(MARK)
    if (at < 0) continue
    const rest = raw.slice(at + MARK.length).replace(/\r/g, '').trim()
    const words = rest.split(/\s+/)
    const [first, second, third] = words
    if (first === undefined) continue
    if (first.startsWith('lease=')) {
      // A renewal prints again; the last lease printed is the one the guest holds.
      const lease = parseLease(words)
      if (lease) out.lease = lease
    } else if (first.startsWith('addr6=')) {
      out.addr6 = first.slice(6)
    } else if (first.startsWith('mac=')) {
      out.mac = first.slice(4)
    } else if (first === 'ping' && second !== undefined && third !== undefined) {
      out.pings[second] = third === 'ok'
    } else if (first === 'tcp' && second !== undefined && third !== undefined) {
      const slash = second.lastIndexOf('/')
      out.tcp[tcpKey(second.slice(0, slash), Number(second.slice(slash + 1)))] = third === 'ok'
    } else if (first === 'error') {
      out.errors.push(words.slice(1).join(' ').replace(/^"|"$/g, ''))
    } else if (first === 'done') {
      out.done = true
    }
  }
  return out
}
