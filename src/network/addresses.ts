/**
 * Every guest's addresses: its DHCP leases (kvmnet's dnsmasq) merged with what the kernel learned from its
 * traffic (nft/learn.ts: ARP, IPv4 and IPv6 sources, so static addresses and SLAAC too, on every kind but
 * `open`). Read on demand — no capture process, no daemon; the 'address' event is a poll that runs only
 * while someone listens for it.
 */
import type { EventEmitter } from 'node:events'
import { isIP } from '../util/index.js'
import type { AddressLearning, LearnedAddress, Nft } from '../nft/index.js'
import type { PortLease } from './leases.js'
import type { NetworkEvents } from './options.js'
import type { PortAddress } from './port-address.js'

export type { PortAddress }
import type { PlannedPort } from './plan.js'

/** Leases and learned addresses, one entry per port (or MAC) and address, sorted by port then address. */
export function mergeAddresses(ports: readonly Pick<PlannedPort, 'name'>[], leases: readonly PortLease[], learned: readonly LearnedAddress[], now: number): PortAddress[] {
  const byKey = new Map<string, PortAddress>()
  const portNames = new Set(ports.map((p) => p.name))
  for (const l of leases) {
    const family = isIP(l.ip) === 6 ? 6 : 4
    const a: PortAddress = { ...(l.port !== undefined ? { port: l.port } : {}), mac: l.mac, address: l.ip, family, source: 'lease', leaseExpiresAt: l.expiresAt }
    byKey.set(`${l.port ?? l.mac}\0${l.ip}`, a)
  }
  for (const e of learned) {
    // Frames of other bridge ports (a veth someone added by hand) are not the network's guests.
    if (!portNames.has(e.ifname)) continue
    const lastSeen = new Date(Math.floor(now / 1000 - Math.max(0, e.timeout - e.expires)) * 1000)
    const key = `${e.ifname}\0${e.address}`
    const leased = byKey.get(key)
    if (leased) leased.lastSeen = lastSeen
    else byKey.set(key, { port: e.ifname, mac: e.mac, address: e.address, family: e.family, source: 'neighbour', lastSeen })
  }
  // Each entry's sort key made once (not twice per comparison: 2000 entries make ~40 000 comparisons).
  const keyed = [...byKey.values()].map((a) => ({ a, k: `${a.port ?? `~${a.mac}`}\0${a.family}\0${a.address}` }))
  return keyed.sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0)).map((x) => x.a)
}

/** What a network's addresses are read from. */
export interface AddressSources {
  nft: Nft
  ports: readonly PlannedPort[]
  learning: AddressLearning | undefined
  leases(): Promise<PortLease[]>
}

export async function readAddresses(src: AddressSources): Promise<PortAddress[]> {
  const [leases, learned] = await Promise.all([src.leases(), src.learning ? src.nft.learned(src.learning.tag, src.learning.family) : Promise.resolve([])])
  return mergeAddresses(src.ports, leases, learned, Date.now())
}

/** How often the 'address' event's poll reads the addresses. */
export const ADDRESS_POLL_MS = 1000

/**
 * The 'address' event: polls while there are listeners and emits each port · address not seen before
 * (the first read only records what is already there; `addresses()` gives those). A failed read is
 * reported once per run of failures and the poll goes on.
 */
export class AddressPoll {
  private timer: NodeJS.Timeout | undefined
  private known: Set<string> | undefined
  private failing = false
  private busy = false

  constructor(
    private readonly read: () => Promise<PortAddress[]>,
    private readonly emit: (a: PortAddress) => void,
    private readonly fail: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.timer) return
    this.known = undefined
    this.timer = setInterval(() => void this.tick(), ADDRESS_POLL_MS)
    this.timer.unref()
    void this.tick()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private async tick(): Promise<void> {
    // A read slower than the interval (a large network) is not overlapped by the next.
    if (this.busy) return
    this.busy = true
    let now: PortAddress[]
    try {
      now = await this.read()
    } catch (err) {
      if (!this.failing) this.fail(err)
      this.failing = true
      return
    } finally {
      this.busy = false
    }
    this.failing = false
    if (!this.timer) return
    const keys = new Set(now.map((a) => `${a.port ?? a.mac}\0${a.address}`))
    const before = this.known
    this.known = keys
    if (before) for (const a of now) if (!before.has(`${a.port ?? a.mac}\0${a.address}`)) this.emit(a)
  }
}

/** The poll of a Network handle: runs while it has 'address' listeners; failures are 'warning' events. */
export function addressPollOf(net: EventEmitter<NetworkEvents>, name: () => string, read: () => Promise<PortAddress[]>): AddressPoll {
  const poll = new AddressPoll(read, (a) => net.emit('address', a), (err) =>
    net.emit('warning', { code: 'address-read', network: name(), object: 'addresses', message: `reading the guests' addresses failed: ${(err as Error).message}`, fix: 'see the error; the poll goes on' }),
  )
  // Node's own events, which the typed map of the network's events does not list.
  const plain: EventEmitter = net
  plain.on('newListener', (event: string) => event === 'address' && poll.start())
  plain.on('removeListener', (event: string) => event === 'address' && net.listenerCount('address') === 0 && poll.stop())
  return poll
}
