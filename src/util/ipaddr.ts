/**
 * ipaddr.js, loaded on first use. Importing it costs ~4 ms — a quarter of what loading kvmnet costs over a
 * bare Node — and an application that imports kvmnet without building a network yet (or a CLI command that
 * only reads state) should not pay it. A Proxy keeps every call site as it was (`ipaddr.parse`,
 * `ipaddr.IPv4.isValid`, `x instanceof ipaddr.IPv6`).
 */
import { createRequire } from 'node:module'
import type IpaddrModule from 'ipaddr.js'

type Ipaddr = typeof IpaddrModule

let loaded: Ipaddr | undefined
// In the CommonJS bundles (dist/*.cjs) `require` is CommonJS's own and esbuild puts ipaddr.js inside them
// (tsup.config.ts), under their V8 code cache: resolving it in node_modules and compiling it cost a
// command ~8M instructions. Run as an ES module (the sources through tsx), it comes from node_modules.
const load = (): Ipaddr => (loaded ??= (typeof require === 'function' ? require('ipaddr.js') : createRequire(import.meta.url)('ipaddr.js')) as Ipaddr)

/**
 * ipaddr.parseCIDR tries IPv6 first, so every IPv4 CIDR — most of what a spec, a plan and the netlink
 * encoders parse — costs a failed IPv6 parse and a thrown Error (its stack captured) before the IPv4 one.
 * No IPv6 address lacks a colon (ipaddr's own IPv6.isValid shortcut says so), so a string without one goes
 * to the IPv4 parser directly (checked first, so that nothing throws); one that does not parse there is
 * handed to ipaddr.parseCIDR after all, for the very error it throws (test/unit/ip-fast-paths.test.ts
 * compares the two).
 */
function parseCIDR(this: void, x: string): ReturnType<Ipaddr['parseCIDR']> {
  const m = load()
  if (typeof x === 'string' && !x.includes(':') && m.IPv4.isValidCIDR(x)) return m.IPv4.parseCIDR(x)
  // An IPv6 CIDR, or neither: ipaddr's own call, with its own result or error.
  return m.parseCIDR(x)
}

// Pure: a program that imports util/ without using it (the kvmnet and kvmnet-cni loaders, dist/cli.cjs and
// dist/cni.cjs, compiled at each start without a code cache) then carries none of ipaddr.js (~30 KB).
const ipaddr: Ipaddr = /* @__PURE__ */ new Proxy({} as Ipaddr, {
  get: (_target, key) => (key === 'parseCIDR' ? parseCIDR : (Reflect.get(load(), key) as unknown)),
  has: (_target, key) => Reflect.has(load(), key),
})

// The types callers name as `ipaddr.IPv4` / `ipaddr.IPv6` (a type-only namespace merged with the value).
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace ipaddr {
  type IPv4 = IpaddrModule.IPv4
  type IPv6 = IpaddrModule.IPv6
}

export default ipaddr
