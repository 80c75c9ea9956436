/** Ethernet addresses as 'aa:bb:cc:dd:ee:ff' strings at the API edge and 6 raw bytes on the wire. */
export { isMac } from '../../util/index.js'

export function macToBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))
}

export function bytesToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** The kernel refuses multicast (I/G bit) and all-zero unicast addresses for a device. */
export function isUsableUnicastMac(mac: string): boolean {
  const b = macToBytes(mac)
  return (b[0]! & 1) === 0 && b.some((x) => x !== 0)
}
