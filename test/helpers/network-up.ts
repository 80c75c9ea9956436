/** A network up in a test namespace, with its state under /run/kvmnet-test, taken down in the test's teardown. */
import { rm } from 'node:fs/promises'
import { createNetwork, validateSpec, type Network } from '../../src/index.js'
import type { TestNs } from './ns.js'

export async function upInTestNs(t: { teardown(fn: () => unknown): void }, host: TestNs, spec: unknown): Promise<Network> {
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const net = createNetwork(validateSpec(spec), { netns: host.name, stateRoot })
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  return net
}
