/** Collects every problem in an input, then throws one SpecError naming the first field (and listing all). */
import { SpecError } from '../errors.js'

export class Issues {
  private readonly list: { field: string; reason: string }[] = []

  add(field: string, reason: string): void {
    this.list.push({ field, reason })
  }

  throwIfAny(): void {
    const first = this.list[0]
    if (first) throw new SpecError(first.field, first.reason, this.list)
  }
}

export function join(prefix: string, field: string): string {
  return prefix ? `${prefix}.${field}` : field
}
