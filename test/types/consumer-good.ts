// Compiled by test/unit/spec-types.test.ts: valid specs compile with no annotation.
import { createNetwork } from '../../src/index.js'

export const nat = createNetwork({
  name: 'lab',
  mode: 'nat',
  ipv4: { address: '192.168.150.1/24', dhcp: { range: ['192.168.150.100', '192.168.150.200'] } },
  forwards: [{ proto: 'tcp', hostPort: 2222, guest: '192.168.150.10', guestPort: 22 }],
  ports: [{ name: 'vm1-tap0', queues: 4 }],
})
export const br = createNetwork({ name: 'br', mode: 'bridge', interface: 'eth0' })
export const routed = createNetwork({ name: 'rt', mode: 'routed', ipv4: { address: '192.0.2.1/24' } })
export const mv = createNetwork({ name: 'mv', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'mv0' }] })
