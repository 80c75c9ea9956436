/**
 * Checks of kvmnet-cni's output against the CNI 1.1.0 spec's result types (section 5: ADD success,
 * VERSION success, error), written out field by field: the problems found, [] when it conforms. 1.0.0
 * results are checked against 1.0.0's narrower shape (no interface `mtu`, no route `mtu`/`advmss`/
 * `priority`/`table`/`scope`). Unknown keys are problems too: a runtime may reject them.
 */
import { isIP } from 'node:net'

type Problems = string[]

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isUint(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0
}

function isCidr(v: unknown): boolean {
  if (typeof v !== 'string') return false
  const [ip, len, ...rest] = v.split('/')
  const fam = isIP(ip ?? '')
  const n = Number(len)
  return rest.length === 0 && fam !== 0 && /^\d+$/.test(len ?? '') && n <= (fam === 4 ? 32 : 128)
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i
const SEMVER = /^\d+\.\d+\.\d+$/

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], at: string, out: Problems): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) out.push(`${at}.${k}: not a field of this result type`)
}

function strings(v: unknown, at: string, out: Problems, each?: (s: string) => boolean): void {
  if (!Array.isArray(v)) return void out.push(`${at}: must be a list of strings`)
  v.forEach((s, i) => {
    if (typeof s !== 'string' || (each && !each(s))) out.push(`${at}[${i}]: ${JSON.stringify(s)} is not valid`)
  })
}

/** ADD success (spec section 5, "ADD Success"), for the version in `cniVersion`. */
export function checkAddResult(r: unknown, expectVersion: string): Problems {
  const out: Problems = []
  if (!isObj(r)) return ['result: not a JSON object']
  const v11 = expectVersion !== '1.0.0'
  onlyKeys(r, ['cniVersion', 'interfaces', 'ips', 'routes', 'dns'], 'result', out)
  if (r.cniVersion !== expectVersion) out.push(`cniVersion: ${JSON.stringify(r.cniVersion)}, the configuration's is ${expectVersion}`)
  const ifaces = r.interfaces
  if (ifaces !== undefined && !Array.isArray(ifaces)) out.push('interfaces: must be a list')
  const n = Array.isArray(ifaces) ? ifaces.length : 0
  ;(Array.isArray(ifaces) ? ifaces : []).forEach((i: unknown, k) => {
    const at = `interfaces[${k}]`
    if (!isObj(i)) return void out.push(`${at}: not an object`)
    onlyKeys(i, v11 ? ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID'] : ['name', 'mac', 'sandbox'], at, out)
    if (typeof i.name !== 'string' || i.name === '') out.push(`${at}.name: required string`)
    if (i.mac !== undefined && (typeof i.mac !== 'string' || !MAC.test(i.mac))) out.push(`${at}.mac: not a MAC address`)
    if (i.mtu !== undefined && !isUint(i.mtu)) out.push(`${at}.mtu: not a uint`)
    if (i.sandbox !== undefined && typeof i.sandbox !== 'string') out.push(`${at}.sandbox: not a string`)
    if (i.socketPath !== undefined && (typeof i.socketPath !== 'string' || !i.socketPath.startsWith('/'))) out.push(`${at}.socketPath: not an absolute path`)
  })
  if (!Array.isArray(r.ips)) out.push('ips: required list')
  ;(Array.isArray(r.ips) ? r.ips : []).forEach((ip: unknown, k) => {
    const at = `ips[${k}]`
    if (!isObj(ip)) return void out.push(`${at}: not an object`)
    onlyKeys(ip, ['address', 'gateway', 'interface'], at, out)
    if (!isCidr(ip.address)) out.push(`${at}.address: not an address in CIDR notation`)
    if (ip.gateway !== undefined && (typeof ip.gateway !== 'string' || isIP(ip.gateway) === 0)) out.push(`${at}.gateway: not an IP address`)
    if (ip.interface !== undefined && (!isUint(ip.interface) || (ip.interface as number) >= n)) out.push(`${at}.interface: not an index into interfaces (${n})`)
  })
  if (r.routes !== undefined && !Array.isArray(r.routes)) out.push('routes: must be a list')
  ;(Array.isArray(r.routes) ? r.routes : []).forEach((rt: unknown, k) => {
    const at = `routes[${k}]`
    if (!isObj(rt)) return void out.push(`${at}: not an object`)
    onlyKeys(rt, v11 ? ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope'] : ['dst', 'gw'], at, out)
    if (!isCidr(rt.dst)) out.push(`${at}.dst: not a destination in CIDR notation`)
    if (rt.gw !== undefined && (typeof rt.gw !== 'string' || isIP(rt.gw) === 0)) out.push(`${at}.gw: not an IP address`)
    for (const u of ['mtu', 'advmss', 'priority', 'table', 'scope']) if (rt[u] !== undefined && !isUint(rt[u])) out.push(`${at}.${u}: not a uint`)
  })
  if (r.dns !== undefined) {
    if (!isObj(r.dns)) out.push('dns: not an object')
    else {
      onlyKeys(r.dns, ['nameservers', 'domain', 'search', 'options'], 'dns', out)
      if (r.dns.nameservers !== undefined) strings(r.dns.nameservers, 'dns.nameservers', out, (s) => isIP(s) !== 0)
      if (r.dns.domain !== undefined && typeof r.dns.domain !== 'string') out.push('dns.domain: not a string')
      if (r.dns.search !== undefined) strings(r.dns.search, 'dns.search', out)
      if (r.dns.options !== undefined) strings(r.dns.options, 'dns.options', out)
    }
  }
  return out
}

/** The error result (spec section 5, "Error"). */
export function checkErrorResult(r: unknown, expectVersion?: string): Problems {
  const out: Problems = []
  if (!isObj(r)) return ['error: not a JSON object']
  onlyKeys(r, ['cniVersion', 'code', 'msg', 'details'], 'error', out)
  if (typeof r.cniVersion !== 'string' || !SEMVER.test(r.cniVersion)) out.push('cniVersion: required version string')
  if (expectVersion !== undefined && r.cniVersion !== expectVersion) out.push(`cniVersion: ${JSON.stringify(r.cniVersion)}, expected ${expectVersion}`)
  if (!isUint(r.code) || r.code === 0) out.push('code: required non-zero uint')
  if (typeof r.msg !== 'string' || r.msg === '') out.push('msg: required string')
  if (r.details !== undefined && typeof r.details !== 'string') out.push('details: not a string')
  return out
}

/** VERSION success (spec section 5, "VERSION Success"). */
export function checkVersionResult(r: unknown, expectVersion: string): Problems {
  const out: Problems = []
  if (!isObj(r)) return ['version: not a JSON object']
  onlyKeys(r, ['cniVersion', 'supportedVersions'], 'version', out)
  if (r.cniVersion !== expectVersion) out.push(`cniVersion: ${JSON.stringify(r.cniVersion)}, the input's is ${expectVersion}`)
  strings(r.supportedVersions, 'supportedVersions', out, (s) => SEMVER.test(s))
  return out
}
