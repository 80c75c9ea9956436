/**
 * ipString formats addresses by hand (issue 21: ipaddr.js's objects for every route of a dump); it must
 * print exactly what ipaddr.js prints, RFC 5952 for IPv6, on edge cases and on many random addresses.
 */
import t from 'tap'
import { ipString } from '../../src/rtnl/wire/ip.js'
import { ipaddr } from '../../src/util/index.js'

const viaIpaddr = (b: Uint8Array): string => ipaddr.fromByteArray([...b]).toString()
const v6 = (text: string): Uint8Array => Uint8Array.from(ipaddr.parse(text).toByteArray())

t.test('edge cases', async (t) => {
  const cases = ['::', '::1', '1::', 'fe80::1', '2001:db8::', '2001:db8:0:1:1:1:1:1', '2001:0:0:1:0:0:0:1', '1:0:0:2:0:0:3:4', '0:0:1:0:0:1:0:0',
    '1:0:1:0:1:0:1:0', '::ffff:192.0.2.1', 'ff02::1:ff00:1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '0:1:2:3:4:5:6:0', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8']
  for (const c of cases) t.equal(ipString(v6(c)), viaIpaddr(v6(c)), c)
  for (const c of ['0.0.0.0', '192.0.2.1', '255.255.255.255', '10.100.3.1']) t.equal(ipString(Uint8Array.from(ipaddr.parse(c).toByteArray())), c, c)
  t.equal(ipString(Buffer.from([10, 0, 0, 1])), '10.0.0.1', 'a Buffer as the kernel gives it')
})

t.test('random addresses, zero groups likely', async (t) => {
  let seed = 21
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32
  let bad = 0
  for (let n = 0; n < 20000; n++) {
    const b = new Uint8Array(16)
    for (let g = 0; g < 8; g++) {
      if (rnd() < 0.5) continue
      b[2 * g] = rnd() < 0.5 ? 0 : Math.floor(rnd() * 256)
      b[2 * g + 1] = Math.floor(rnd() * 256)
    }
    if (ipString(b) !== viaIpaddr(b) && bad++ < 5) t.fail(`${viaIpaddr(b)} printed as ${ipString(b)}`)
  }
  t.equal(bad, 0, '20000 addresses as ipaddr.js prints them')
})
