// Compiled by test/unit/spec-types.test.ts (not part of the suite's own build): every line below must
// be a type error for a consumer of kvmnet.
import { createNetwork } from '../../src/index.js'

createNetwork({ name: 'x', mode: 'natt' })
createNetwork({ name: 'x', mode: 'bridge' })
createNetwork({ name: 'x', mode: 'nat', ipv4: { adress: '10.0.0.1/24' } })
createNetwork({ name: 'x', mode: 'isolated', forwards: [] })
createNetwork({ name: 'x', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'p', queues: 2 }] })
