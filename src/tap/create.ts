import { SpecError } from '../errors.js'
import { native } from '../native/index.js'
import type { NetnsRef } from '../netns/index.js'
import { tapHandle, type TapHandle } from './handle.js'
import { normalizeTapOptions, type TapOptions } from './options.js'

function nsPathOf(ns: NetnsRef | undefined): string | null {
  return !ns || ns.isCurrent ? null : ns.path
}

/**
 * Creates a tun/tap device in ns, or attaches to an existing persistent one of that name (then
 * `persistent` is true whatever was asked, and the device is left alone by rollbacks).
 */
export function createTap(ns: NetnsRef | undefined, opts: TapOptions): TapHandle {
  const checked = normalizeTapOptions(opts)
  const tap = native.tapCreate(nsPathOf(ns), checked)
  return tapHandle(tap)
}

/**
 * Creates several devices with one namespace switch, all or nothing: when one fails (a BatchItemError
 * whose `index` names it), those created before it are removed again; persistent devices that already
 * existed and were only attached to are left as they were.
 */
export function createTaps(ns: NetnsRef | undefined, opts: readonly TapOptions[]): TapHandle[] {
  if (!Array.isArray(opts)) throw new SpecError('taps', 'must be an array')
  const checked = opts.map((o, i) => normalizeTapOptions(o, `taps[${i}]`))
  const seen = new Map<string, number>()
  checked.forEach((o, i) => {
    if (o.name.includes('%d')) return
    const before = seen.get(o.name)
    // Two items with one name would attach to the same device (or fail with EBUSY) — never what was meant.
    if (before !== undefined) throw new SpecError(`taps[${i}].name`, `duplicates taps[${before}].name '${o.name}'`)
    seen.set(o.name, i)
  })
  const taps = native.tapCreateMany(nsPathOf(ns), checked)
  return taps.map((tap) => tapHandle(tap))
}
