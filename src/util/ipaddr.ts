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

const ipaddr: Ipaddr = new Proxy({} as Ipaddr, {
  get: (_target, key) => Reflect.get(load(), key) as unknown,
  has: (_target, key) => Reflect.has(load(), key),
})

// The types callers name as `ipaddr.IPv4` / `ipaddr.IPv6` (a type-only namespace merged with the value).
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace ipaddr {
  type IPv4 = IpaddrModule.IPv4
  type IPv6 = IpaddrModule.IPv6
}

export default ipaddr
