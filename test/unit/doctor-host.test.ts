/**
 * How doctor reads the kernel's features (src/doctor/host.ts kernelCheck) from the facts a host offers:
 * its config (=y, =m, unset), /proc/modules, /sys/module, and /lib/modules/RELEASE (present, or absent as in a
 * container). The facts are the shapes of Debian 12's cloud kernel (modules) and of a monolithic one.
 */
import t from 'tap'
import { KERNEL_FEATURES, kernelCheck, type KernelFacts } from '../../src/doctor/host.js'

const feature = (name: string) => {
  const f = KERNEL_FEATURES.find((k) => k.name === name)
  if (!f) throw new Error(`no feature ${name}`)
  return f
}
const facts = (over: Partial<KernelFacts>): KernelFacts => ({ release: '6.1.0-57-cloud-amd64', config: undefined, configFrom: undefined, loaded: new Set(), sysModules: new Set(), installed: undefined, ...over })
const cfg = (entries: Record<string, string>) => new Map(Object.entries(entries))

t.test('built in, loaded, or a module on disk: ok', async (t) => {
  t.match(kernelCheck(facts({ config: cfg({ TUN: 'y' }), configFrom: '/proc/config.gz' }), feature('tun/tap'), 'linux-image-amd64'), { status: 'ok', found: 'built in (CONFIG_TUN=y)' })
  t.match(kernelCheck(facts({ loaded: new Set(['macvtap']) }), feature('macvtap'), 'linux-image-amd64'), { status: 'ok', found: 'module macvtap loaded' })
  const debian = facts({ config: cfg({ NET_SCH_HTB: 'm', NF_TABLES_INET: 'y' }), configFrom: '/boot/config-6.1.0-57-cloud-amd64', installed: new Map([['sch_htb', 'module' as const]]) })
  t.match(kernelCheck(debian, feature('tc HTB qdisc'), 'linux-image-amd64'), { status: 'ok', found: 'module sch_htb, loaded on first use' })
  t.match(kernelCheck(debian, feature('nf_tables inet family'), 'linux-image-amd64'), { status: 'ok' })
  t.match(kernelCheck(facts({ installed: new Map([['bridge', 'builtin' as const]]) }), feature('bridge'), 'linux-image-amd64'), { status: 'ok', found: 'built in (bridge in modules.builtin)' })
})

t.test('not configured, or a module that is not on disk: missing, with the kernel package', async (t) => {
  const c = kernelCheck(facts({ config: cfg({ IFB: 'y' }), configFrom: '/proc/config.gz' }), feature('tc mirred action'), 'linux-image-amd64')
  t.same(c, { requirement: 'kernel: tc mirred action', status: 'missing', found: 'CONFIG_NET_ACT_MIRRED is not set in /proc/config.gz', package: 'linux-image-amd64' })
  const noModule = facts({ config: cfg({ IFB: 'm' }), configFrom: '/boot/config-6.1.0-57-cloud-amd64', installed: new Map() })
  t.match(kernelCheck(noModule, feature('IFB device'), 'linux-image-amd64'), { status: 'missing', found: 'CONFIG_IFB=m, but ifb is not in /lib/modules/6.1.0-57-cloud-amd64' })
  t.match(kernelCheck(facts({ installed: new Map() }), feature('vxlan'), 'linux-image-amd64'), { status: 'missing' })
})

t.test('nothing to tell by (a container without the kernel config or /lib/modules): unknown', async (t) => {
  t.match(kernelCheck(facts({}), feature('vxlan'), 'linux-image-amd64'), { status: 'unknown' })
  const m = facts({ config: cfg({ VXLAN: 'm' }), configFrom: '/boot/config-6.1.0-57-cloud-amd64' })
  t.match(kernelCheck(m, feature('vxlan'), 'linux-image-amd64'), { status: 'unknown', found: 'CONFIG_VXLAN=m, but /lib/modules/6.1.0-57-cloud-amd64 is absent' })
})
