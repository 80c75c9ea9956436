/** Ethernet addresses as 'aa:bb:cc:dd:ee:ff' strings at the API edge and 6 raw bytes on the wire. */
export { isMac } from '../../util/index.js'

export function macToBytes(mac: string): Buffer {
  const parts = mac.split(':')
  // Byte by byte rather than Buffer.from(array): each tap's MAC is read twice per apply (checked, encoded).
  const b = Buffer.alloc(parts.length)
  for (let i = 0; i < parts.length; i++) b[i] = parseInt(parts[i]!, 16)
  return b
}

/** Two hex digits per byte value: a 1000-link dump formats 1000 MACs. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function bytesToMac(b: Buffer): string {
  if (b.length === 0) return ''
  let out = HEX[b[0]!]!
  for (let i = 1; i < b.length; i++) out += `:${HEX[b[i]!]!}`
  return out
}

/** The kernel refuses multicast (I/G bit) and all-zero unicast addresses for a device. */
export function isUsableUnicastMac(mac: string): boolean {
  const b = macToBytes(mac)
  return (b[0]! & 1) === 0 && b.some((x) => x !== 0)
}
