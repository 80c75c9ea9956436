/**
 * prevResult (the result of the earlier plugins in a chain, or of this attachment's ADD for CHECK), checked
 * against the result type before anything relies on it: ADD appends to it, CHECK compares with it. A
 * runtime passing something else gets error 7 naming the field, not a JavaScript error. DEL does not read
 * it (it acts on its own record), so a garbage one cannot stop a DEL.
 */
import { CniCode, CniError } from './errors.js'
import type { CniResult } from './result.js'

function invalid(field: string, reason: string): CniError {
  return new CniError(CniCode.InvalidConfig, 'invalid network configuration', `${field}: ${reason}`)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Each listed member, when present, must be a string (or an integer for `interface`). */
function checkMembers(o: Record<string, unknown>, field: string, strings: readonly string[], ints: readonly string[] = []): void {
  for (const k of strings) if (o[k] !== undefined && typeof o[k] !== 'string') throw invalid(`${field}.${k}`, 'must be a string')
  for (const k of ints) if (o[k] !== undefined && (typeof o[k] !== 'number' || !Number.isInteger(o[k]) || (o[k] as number) < 0)) throw invalid(`${field}.${k}`, 'must be a whole number')
}

function list(o: Record<string, unknown>, key: string, each: (item: Record<string, unknown>, field: string) => void): void {
  const v = o[key]
  if (v === undefined) return
  if (!Array.isArray(v)) throw invalid(`prevResult.${key}`, 'must be a list')
  v.forEach((item: unknown, i) => {
    const field = `prevResult.${key}[${i}]`
    if (!isObject(item)) throw invalid(field, 'must be an object')
    each(item, field)
  })
}

/** True when `v` has the result type's shape; otherwise throws error 7 naming the first bad field. */
function isResult(v: unknown): v is CniResult {
  if (!isObject(v)) throw invalid('prevResult', 'must be a result object ({cniVersion, interfaces, ips, routes, dns})')
  list(v, 'interfaces', (i, f) => {
    if (typeof i.name !== 'string') throw invalid(`${f}.name`, 'is required (a string)')
    checkMembers(i, f, ['mac', 'sandbox'], ['mtu'])
  })
  list(v, 'ips', (i, f) => {
    if (typeof i.address !== 'string') throw invalid(`${f}.address`, 'is required (an address with prefix length)')
    checkMembers(i, f, ['gateway'], ['interface'])
  })
  list(v, 'routes', (r, f) => {
    if (typeof r.dst !== 'string') throw invalid(`${f}.dst`, 'is required (a CIDR)')
    checkMembers(r, f, ['gw'])
  })
  if (v.dns !== undefined) {
    if (!isObject(v.dns)) throw invalid('prevResult.dns', 'must be an object')
    for (const k of ['nameservers', 'search', 'options']) {
      const l = v.dns[k]
      if (l !== undefined && (!Array.isArray(l) || l.some((x) => typeof x !== 'string'))) throw invalid(`prevResult.dns.${k}`, 'must be a list of strings')
    }
    checkMembers(v.dns, 'prevResult.dns', ['domain'])
  }
  return true
}

export function parsePrevResult(v: unknown): CniResult | undefined {
  if (v === undefined || v === null) return undefined
  return isResult(v) ? v : undefined
}
