/**
 * A memo of derived values by a digest of their source text, holding at most `limit` entries (the oldest
 * written goes first). For work an apply repeats on input that rarely changes: every `up` reads and
 * checks the state of each other network in its namespace and plans it to know its link names. Done
 * afresh each time, a hundred networks made that O(n²) — most of what their ups allocated, which also
 * grew V8's young generation (RSS) — for the same answers. Keyed by a digest of the whole text, so an
 * edited or corrupted source is never mistaken for the one remembered, and no source text is kept.
 */
import { sha256 } from './sha256.js'

export class BoundedMemo<V> {
  private readonly entries = new Map<string, V>()

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a memo holds at least one entry (got ${limit})`)
  }

  get size(): number {
    return this.entries.size
  }

  /** The key for a source text (a state file's bytes, a spec's JSON). */
  static keyOf(text: string): string {
    return sha256(text).toString('base64')
  }

  get(key: string): V | undefined {
    return this.entries.get(key)
  }

  set(key: string, value: V): void {
    this.entries.delete(key)
    this.entries.set(key, value)
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string)
  }

  /** The value remembered for `key`, or `make()`'s, remembered. */
  through(key: string, make: () => V): V {
    const had = this.entries.get(key)
    if (had !== undefined) return had
    const v = make()
    this.set(key, v)
    return v
  }
}
