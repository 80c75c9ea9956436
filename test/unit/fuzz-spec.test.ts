/**
 * Property test of the network spec, the input kvmnet trusts least: mutated valid specs (wrong types at
 * every path, dropped and extra keys, own __proto__/constructor keys, hostile numbers and strings, text that
 * would add a dnsmasq option or an nft statement, duplicates). Each is either accepted or refused with a
 * SpecError whose every field names a path of the input; an accepted one plans, renders a dnsmasq config
 * whose every line is the option kvmnet wrote, and an nft document without control characters; and the
 * published JSON Schema accepts whatever the validator accepts.
 * Reproduce a failure: KVMNET_FUZZ_SEED=<seed from the test name> npx tap test/unit/fuzz-spec.test.ts
 */
import t from 'tap'
import { KvmnetError, SpecError } from '../../src/errors.js'
import { specIssues, validateSpec } from '../../src/network/validate.js'
import { networkJsonSchema } from '../../src/network/json-schema.js'
import { dnsmasqOf, firewallOf, linkNamesOf, planFor } from '../../src/network/kinds/index.js'
import { dnsmasqPaths, renderConfig } from '../../src/dnsmasq/index.js'
import { renderRules } from '../../src/nft/index.js'
import { nat } from '../helpers/bad-specs.js'
import { Rng, fuzzSeed, mutate, show, thrown } from '../helpers/fuzz.js'

const seed = fuzzSeed()
const ITERATIONS = Number(process.env.KVMNET_FUZZ_ITERATIONS ?? 1500)
const paths = dnsmasqPaths('/run/kvmnet/host/lab/dnsmasq')

/** Valid specs of every kind, together using nearly every field (README's and the unit tests' examples). */
const bases: unknown[] = [
  nat,
  {
    name: 'full',
    mode: 'nat',
    netns: 'k13fz-ns',
    mtu: 1400,
    bridge: 'br-full',
    uplink: 'eth0',
    filtering: true,
    host: { services: [{ proto: 'tcp', port: 22 }] },
    firewall: { coexist: true },
    ipv4: {
      address: '10.8.0.1/24',
      dhcp: { ranges: [{ start: '10.8.0.100', end: '10.8.0.150', leaseTime: 600 }], leaseTime: 'infinite', hosts: [{ mac: '52:54:00:00:00:09', ip: '10.8.0.9', name: 'db.lab.test', leaseTime: 7200 }] },
      extra: [{ address: '10.9.0.1/24', dhcp: { range: ['10.9.0.10', '10.9.0.20'] } }],
    },
    ipv6: {
      address: 'fd00:8::1/64',
      nat66: true,
      dhcp: { range: ['fd00:8::100', 'fd00:8::1ff'], hosts: [{ id: '00:03:00:01:52:54:00:00:00:09', ip: 'fd00:8::9', name: 'db6' }] },
      extra: [{ address: 'fd00:9::1/64' }],
    },
    dns: {
      domain: 'lab.test',
      localOnly: true,
      hosts: [{ name: 'www', ip: '10.8.0.7' }, { name: 'v6', ip: 'fd00:8::7' }],
      srv: [{ service: 'ldap', protocol: 'tcp', domain: 'lab.test', target: 'db.lab.test', port: 389, priority: 1, weight: 5 }],
      txt: [{ name: 'info', value: 'v=spf1 -all "quoted" \\ back' }],
      forwarders: ['192.0.2.53', { domain: 'corp.example', address: '192.0.2.54' }, { domain: 'local.example' }],
    },
    forwards: [
      { proto: 'tcp', hostPort: [8000, 8010], guest: '10.8.0.9', guestPort: 9000, hostAddress: '198.51.100.5', inInterface: 'eth0' },
      { proto: 'udp', hostPort: 5353, guest: 'fd00:8::9' },
    ],
    snat: '198.51.100.9',
    ports: [
      { name: 'vm1-tap0', mac: '52:54:00:00:00:09', owner: 107, group: 107, queues: 4, vnetHdr: true, persistent: true, filtering: true, bandwidth: { inbound: { average: 1000 }, outbound: { average: 2000, peak: 4000, burst: 64 } } },
      { name: 'vm2-tap0' },
    ],
  },
  { name: 'rt', mode: 'routed', ipv4: { address: '192.0.2.1/24', dhcp: { range: ['192.0.2.100', '192.0.2.200'] } }, uplink: 'eth0', ipv6: { address: 'fd00:5::1/64', dhcp: { hosts: [{ mac: '52:54:00:00:00:05', ip: 'fd00:5::5' }] } } },
  { name: 'op', mode: 'open', ipv4: { address: '192.0.2.1/24' }, dns: { domain: 'op.test', enabled: true } },
  { name: 'iso', mode: 'isolated', ipv4: { address: '10.1.0.1/24', dhcp: { range: ['10.1.0.10', '10.1.0.20'] } }, host: { services: 'dhcp-dns' } },
  { name: 'vi', mode: 'very-isolated', ports: [{ name: 'p0', kind: 'tap' }], vxlan: { vni: 42, local: '198.51.100.1', peers: ['198.51.100.2', '198.51.100.3'], port: 4789 } },
  { name: 'br', mode: 'bridge', interface: 'eth0', adoptManagedInterface: false, ports: [{ name: 'p0' }] },
  { name: 'mv', mode: 'macvtap', interface: 'eth0', macvtapMode: 'vepa', hostAccess: true, ipv4: { address: '198.51.100.3/24' }, ports: [{ name: 'mv0', kind: 'macvtap', mac: '52:54:00:00:00:44' }] },
]

type Seg = string | number

/** 'ipv4.dhcp.hosts[0].mac' back into segments (a key written with '.' or '[' is split too: then only the prefix is checked). */
function segments(field: string): Seg[] {
  const out: Seg[] = []
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string))
  return out
}

/** Whether `field` names a place in `input`: each step is there, up to one that is missing from an object that is. */
function namesInput(input: unknown, field: string): boolean {
  if (field === '') return true
  let cur: unknown = input
  const segs = segments(field)
  for (let i = 0; i < segs.length; i++) {
    if (typeof cur !== 'object' || cur === null) return false
    const seg = segs[i] as Seg
    // A field that is missing (required, or needed by another), perhaps with its parents: named where it belongs.
    if (!Object.hasOwn(cur, seg) || (cur as Record<Seg, unknown>)[seg] === undefined) return true
    cur = (cur as Record<Seg, unknown>)[seg]
  }
  return true
}

/** The option names renderConfig writes; a line with any other (INJ=1, an option smuggled in a value) escaped its field. */
const OPTIONS = new Set([
  'user', 'group', 'pid-file', 'log-facility', 'bind-interfaces', 'interface', 'except-interface', 'listen-address', 'no-hosts', 'no-resolv', 'resolv-file',
  'port', 'domain-needed', 'bogus-priv', 'addn-hosts', 'domain', 'local', 'expand-hosts', 'server', 'srv-host', 'txt-record', 'dhcp-range', 'dhcp-hostsfile',
  'dhcp-leasefile', 'dhcp-authoritative', 'no-ping', 'dhcp-rapid-commit', 'dhcp-option', 'enable-ra', 'ra-param',
])

function renderProblems(spec: unknown): string[] {
  const problems: string[] = []
  const plan = planFor(spec as Parameters<typeof planFor>[0])
  const names = [...linkNamesOf(plan)]
  const links = [...plan.ports.map((p) => p.name), ...('bridge' in plan && plan.mode !== 'bridge' ? [plan.bridge] : [])]
  if (new Set(links).size !== links.length) problems.push(`two links of one name: ${links.join(', ')}`)
  for (const n of names) if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n)) problems.push(`link name ${JSON.stringify(n)}`)
  const d = dnsmasqOf(plan)
  if (d) {
    const r = renderConfig({ ...d, ...(d.dns ? { dns: { ...d.dns, resolvFile: '/etc/resolv.conf' } } : {}) }, paths)
    for (const [what, text] of Object.entries(r)) {
      if (!/^[\x20-\x7e\n]*$/.test(text)) problems.push(`${what} has a character outside printable ASCII`)
    }
    for (const line of r.conf.split('\n')) {
      if (line === '' || line.startsWith('# ')) continue
      const key = line.split('=')[0] ?? ''
      if (!OPTIONS.has(key)) problems.push(`conf line ${JSON.stringify(line)} is no option kvmnet writes`)
      // A TXT value may hold any printable text, inside its quotes with \\ and \" escaped.
      if (key === 'txt-record' ? !/^txt-record=[^,"\s]+,"(\\[\\"]|[^"\\])*"$/.test(line) : line.includes('INJ')) problems.push(`conf line ${JSON.stringify(line)} carries injected text`)
    }
    for (const line of r.hostsFile.split('\n').filter(Boolean)) {
      if (line.split(',').length > 4 || line.includes(' ') || line.includes('INJ')) problems.push(`dhcp-hosts line ${JSON.stringify(line)}`)
    }
    for (const line of r.addnHosts.split('\n').filter(Boolean)) {
      if (line.split(' ').length !== 2 || line.includes('INJ')) problems.push(`addn-hosts line ${JSON.stringify(line)}`)
    }
  }
  const fw = firewallOf(plan)
  if (fw) {
    const doc = JSON.stringify(renderRules(fw))
    // eslint-disable-next-line no-control-regex
    if (/\\u00[01]|\\u007f|\u2028|\u2029|INJ/.test(doc)) problems.push('nft document carries a control character or injected text')
  }
  return problems
}

/** A small JSON Schema (2020-12) check of the keywords the published schema uses: where `v` fails it, or undefined. */
function schemaRefuses(schema: Record<string, unknown>, v: unknown, at = ''): string | undefined {
  const type = schema.type as string | undefined
  const no = (why: string) => `${at || '(spec)'}: ${why}`
  if (type === 'object' && (typeof v !== 'object' || v === null || Array.isArray(v))) return no('not an object')
  if (type === 'array' && !Array.isArray(v)) return no('not an array')
  if (type === 'string' && typeof v !== 'string') return no('not a string')
  if (type === 'boolean' && typeof v !== 'boolean') return no('not a boolean')
  if (type === 'number' && (typeof v !== 'number' || !Number.isFinite(v))) return no('not a number')
  if (type === 'integer' && !Number.isInteger(v)) return no('not an integer')
  if ('const' in schema && v !== schema.const) return no(`not ${String(schema.const)}`)
  if (Array.isArray(schema.enum) && !schema.enum.includes(v)) return no('not in the enum')
  if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(v as string)) return no(`does not match ${schema.pattern}`)
  if (typeof schema.minimum === 'number' && (v as number) < schema.minimum) return no('below minimum')
  if (typeof schema.maximum === 'number' && (v as number) > schema.maximum) return no('above maximum')
  if (Array.isArray(v)) {
    if (typeof schema.minItems === 'number' && v.length < schema.minItems) return no('too few items')
    if (typeof schema.maxItems === 'number' && v.length > schema.maxItems) return no('too many items')
    const prefix = (schema.prefixItems ?? []) as Record<string, unknown>[]
    for (let i = 0; i < v.length; i++) {
      const s = i < prefix.length ? prefix[i] : (schema.items as Record<string, unknown> | undefined)
      const why = s && schemaRefuses(s, v[i], `${at}[${i}]`)
      if (why) return why
    }
  }
  if (type === 'object') {
    const o = v as Record<string, unknown>
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>
    for (const k of (schema.required ?? []) as string[]) if (!Object.hasOwn(o, k)) return no(`${k} is required`)
    for (const k of Object.keys(o)) {
      const why = Object.hasOwn(props, k) ? schemaRefuses(props[k] as Record<string, unknown>, o[k], at ? `${at}.${k}` : k) : schema.additionalProperties === false ? no(`${k} is no property`) : undefined
      if (why) return why
    }
  }
  if (Array.isArray(schema.anyOf)) {
    const whys = schema.anyOf.map((s) => schemaRefuses(s as Record<string, unknown>, v, at))
    if (whys.every(Boolean)) return whys.join(' / ')
  }
  if (Array.isArray(schema.oneOf)) {
    const whys = schema.oneOf.map((s) => schemaRefuses(s as Record<string, unknown>, v, at))
    const n = whys.filter((w) => w === undefined).length
    if (n !== 1) return n === 0 ? whys.join(' / ') : no(`${n} of oneOf match`)
  }
  return undefined
}

/** JSON.parse(JSON.stringify(x)) when x is JSON (a spec read from a file), else undefined. */
function asJson(v: unknown): unknown {
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? undefined : x))
  return text === undefined ? undefined : (JSON.parse(text) as unknown)
}

/** The verdict on one input: what failed, or nothing. */
function verdict(input: unknown, jsonSchema: Record<string, unknown>): string | undefined {
  let issues: ReturnType<typeof specIssues> = []
  const e1 = thrown(() => (issues = specIssues(input)))
  if (e1) return `specIssues threw ${String(e1)}`
  const err = thrown(() => validateSpec(input))
  if (err !== undefined) {
    if (!(err instanceof SpecError)) return `validateSpec threw ${err instanceof Error ? err.stack : String(err)}`
    if (issues.length === 0) return 'validateSpec threw but specIssues found nothing'
    for (const i of err.issues) if (!namesInput(input, i.field)) return `field ${JSON.stringify(i.field)} is not a path of the input (${i.reason})`
    return undefined
  }
  if (issues.length > 0) return `accepted although specIssues says ${issues[0]?.field}: ${issues[0]?.reason}`
  const renderErr = thrown(() => {
    const problems = renderProblems(input)
    if (problems.length > 0) throw new Error(problems.join('; '))
  })
  if (renderErr) return `accepted, then ${renderErr instanceof KvmnetError ? 'refused' : 'broke'} in planning or rendering: ${renderErr instanceof Error ? renderErr.stack : String(renderErr)}`
  const json = asJson(input)
  const why = json === undefined ? undefined : schemaRefuses(jsonSchema, json)
  if (why !== undefined) return `accepted by the validator, refused by the published JSON Schema: ${why.length > 400 ? why.slice(-400) : why}`
  return undefined
}

t.test(`mutated specs: a SpecError naming a field of the input, or a spec that renders cleanly (seed ${seed})`, async (t) => {
  const rng = new Rng(seed)
  const jsonSchema = networkJsonSchema()
  for (const base of bases) t.equal(verdict(base, jsonSchema), undefined, `base spec ${(base as { name: string }).name} is valid and renders`)
  let accepted = 0
  let failures = 0
  for (let i = 0; i < ITERATIONS && failures < 5; i++) {
    const input = mutate(rng, rng.pick(bases))
    const started = performance.now()
    const bad = verdict(input, jsonSchema)
    const ms = performance.now() - started
    if (ms > 2000) t.fail(`iteration ${i}: ${Math.round(ms)} ms for ${show(input)}`)
    if (bad !== undefined) {
      failures++
      t.fail(`iteration ${i} (seed ${seed}): ${bad}\n  input: ${show(input)}`)
    } else if (thrown(() => validateSpec(input)) === undefined) accepted++
  }
  t.ok(accepted > ITERATIONS / 50, `some mutations are still valid specs (${accepted} of ${ITERATIONS})`)
})

t.test('found by this test: a hole in an array is refused, not handed to the planner as undefined', async (t) => {
  // Was accepted (the schema skipped holes, as forEach did), then planning threw a TypeError reading
  // `.kind` of undefined; and the JSON Schema refused the same spec once written out (the hole became null).
  const ports = new Array(2)
  ports[1] = { name: 'p1' }
  const err = thrown(() => validateSpec({ name: 'vi', mode: 'very-isolated', ports }))
  t.type(err, SpecError)
  t.equal((err as SpecError).field, 'ports[0]')
  t.equal(verdict({ name: 'vi', mode: 'very-isolated', ports: new Array(3) }, networkJsonSchema()), undefined)
})

t.test('found by this test: what dnsmasq would refuse at up is refused by validateSpec', async (t) => {
  // Both were accepted, then refused by renderConfig's own check during `up`, after the bridge was made,
  // naming dnsmasq's field (dhcp.ranges, dns.hosts[1]) rather than the spec's.
  const emptyRanges = { name: 'n', mode: 'nat', ipv4: { address: '10.0.0.1/24', dhcp: { ranges: [], hosts: [{ mac: '52:54:00:00:00:01', ip: '10.0.0.5' }] } } }
  t.equal((thrown(() => validateSpec(emptyRanges)) as SpecError).field, 'ipv4.dhcp.ranges')
  const twice = { name: 'n', mode: 'nat', ipv4: { address: '10.0.0.1/24' }, dns: { hosts: [{ name: 'www', ip: '10.0.0.7' }, { name: 'WWW', ip: '10.0.0.7' }] } }
  t.equal((thrown(() => validateSpec(twice)) as SpecError).field, 'dns.hosts[1]')
  t.equal(verdict({ ...twice, dns: { hosts: [{ name: 'www', ip: '10.0.0.7' }, { name: 'www', ip: '10.0.0.8' }] } }, networkJsonSchema()), undefined, 'one name, two addresses: fine')
})

t.test('a netns name the namespace code refuses is refused by validateSpec, naming netns', async (t) => {
  // '..' (which is /run/netns/.., that is /run) and a name over 255 bytes passed the spec's pattern, then
  // Netns.open refused them as a SpecError about 'name'.
  for (const netns of ['..', '.', 'é'.repeat(200)]) t.equal((thrown(() => validateSpec({ name: 'n', mode: 'isolated', netns })) as SpecError).field, 'netns', JSON.stringify(netns).slice(0, 20))
  t.ok(validateSpec({ name: 'n', mode: 'isolated', netns: '/proc/1/ns/net' }))
})
