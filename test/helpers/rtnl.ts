/**
 * An Rtnl handle in a throwaway namespace: the namespace is removed and the handle closed at teardown, also
 * when the test fails. The rtnl tests each start from this.
 */
import { Rtnl } from '../../src/rtnl/index.js'
import { makeNs, type TestNs } from './ns.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export async function rtnlInNewNs(t: Teardownable, prefix: string): Promise<{ ns: TestNs; rtnl: Rtnl }> {
  const ns = await makeNs(t, prefix)
  const rtnl = Rtnl.open({ path: ns.path, name: ns.name })
  t.teardown(() => rtnl.close())
  return { ns, rtnl }
}
