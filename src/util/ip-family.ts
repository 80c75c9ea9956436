/**
 * node:net's isIP, without node:net: requiring it to tell an address's family loads the socket machinery
 * (net, stream_wrap, tcp_wrap, pipe_wrap: ~2 ms of every `kvmnet up` and `kvmnet-cni` ADD that never
 * opens a socket). The patterns are Node 20's own (lib/internal/net.js), so every answer is the same;
 * test/unit/ip-family.test.ts compares them with node:net on a corpus.
 */

// IPv4 segment and address, exactly as in Node.
const v4Seg = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])'
const v4Str = `(?:${v4Seg}\\.){3}${v4Seg}`
const v6Seg = '(?:[0-9a-fA-F]{1,4})'

// Built on first use: a process that never asks pays nothing.
let v4: RegExp | undefined
let v6: RegExp | undefined

export function isIPv4(s: string): boolean {
  v4 ??= new RegExp(`^${v4Str}$`)
  return v4.test(s)
}

export function isIPv6(s: string): boolean {
  v6 ??= new RegExp(
    '^(?:' +
      `(?:${v6Seg}:){7}(?:${v6Seg}|:)|` +
      `(?:${v6Seg}:){6}(?:${v4Str}|:${v6Seg}|:)|` +
      `(?:${v6Seg}:){5}(?::${v4Str}|(?::${v6Seg}){1,2}|:)|` +
      `(?:${v6Seg}:){4}(?:(?::${v6Seg}){0,1}:${v4Str}|(?::${v6Seg}){1,3}|:)|` +
      `(?:${v6Seg}:){3}(?:(?::${v6Seg}){0,2}:${v4Str}|(?::${v6Seg}){1,4}|:)|` +
      `(?:${v6Seg}:){2}(?:(?::${v6Seg}){0,3}:${v4Str}|(?::${v6Seg}){1,5}|:)|` +
      `(?:${v6Seg}:){1}(?:(?::${v6Seg}){0,4}:${v4Str}|(?::${v6Seg}){1,6}|:)|` +
      `(?::(?:(?::${v6Seg}){0,5}:${v4Str}|(?::${v6Seg}){1,7}|:))` +
      ')(?:%[0-9a-zA-Z-.:]{1,})?$',
  )
  return v6.test(s)
}

/** 4, 6, or 0 for neither: what node:net's isIP answers. */
export function isIP(s: string): 0 | 4 | 6 {
  if (isIPv4(s)) return 4
  if (isIPv6(s)) return 6
  return 0
}
