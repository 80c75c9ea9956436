/**
 * Property test of fromLibvirtXml on libvirt's own network test files, mutated: characters dropped and
 * doubled, elements duplicated, attributes given hostile values (injection text, huge, non-ASCII),
 * unknown elements and attributes, entity tricks (billion laughs, external entities), deep nesting. Each is
 * imported as a spec validateSpec accepts, or refused with a LibvirtImportError — in bounded time, never
 * expanding an entity or reading a file.
 * Reproduce a failure: KVMNET_FUZZ_SEED=<seed from the test name> npx tap test/unit/fuzz-libvirt-import.test.ts
 */
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { LibvirtImportError, fromLibvirtXml, validateSpec } from '../../src/index.js'
import { INJECTIONS, Rng, fuzzSeed, show, thrown } from '../helpers/fuzz.js'

const seed = fuzzSeed()
const ITERATIONS = Number(process.env.KVMNET_FUZZ_ITERATIONS ?? 400)
const dir = fileURLToPath(new URL('./fixtures/libvirt/', import.meta.url))
const corpus = ['default.xml', ...['networkxml2confdata', 'networkxml2xmlin'].flatMap((d) => readdirSync(dir + d).filter((f) => f.endsWith('.xml')).map((f) => `${d}/${f}`))].map((f) =>
  readFileSync(dir + f, 'utf8'),
)

const LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE network [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<network><name>&lol9;</name><bridge name='virbr9'/><ip address='10.9.0.1' netmask='255.255.255.0'/></network>`

const EXTERNAL = `<?xml version="1.0"?>
<!DOCTYPE network [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<network><name>x</name><domain name='&xxe;'/><ip address='10.9.0.1' netmask='255.255.255.0'/></network>`

const PARAM = `<?xml version="1.0"?>
<!DOCTYPE network [ <!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p; ]>
<network><name>x</name></network>`

/** One attribute's value replaced: hostile text, huge, an entity, or the same in other case. */
function replaceAttr(rng: Rng, s: string): string {
  const attrs = [...s.matchAll(/=(['"])([^'"]*)\1/g)]
  const m = attrs.length > 0 ? rng.pick(attrs) : undefined
  if (!m || m.index === undefined) return s
  const value = rng.pick([...INJECTIONS.map((i) => m[2] + i), 'a'.repeat(100_000), 'é', '', '-1', '99999999999', '0x10', '255.255.255.255', '::', m[2]!.toUpperCase(), `${m[2]}&amp;`, '&#0;', '&#x110000;', '&#10;INJ'])
  const q = m[1]!
  return s.slice(0, m.index) + `=${q}${value.replaceAll(q, q === "'" ? '&apos;' : '&quot;').replaceAll('<', '&lt;')}${q}` + s.slice(m.index + m[0].length)
}

/** Mutations at the text level: whatever they break must be refused, never crash the importer. */
function mutateXml(rng: Rng, xml: string): string {
  let s = xml
  for (let k = 0; k < 1 + rng.int(3); k++) {
    const at = rng.int(s.length + 1)
    switch (rng.int(12)) {
      case 0: // drop a span
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(20))
        break
      case 1:
        s = replaceAttr(rng, s)
        break
      case 2: {
        // an element duplicated
        const els = [...s.matchAll(/<([a-z]+)[^>]*\/>/g)]
        const m = els.length > 0 ? rng.pick(els) : undefined
        if (m?.index !== undefined) s = s.slice(0, m.index) + m[0] + m[0] + s.slice(m.index + m[0].length)
        break
      }
      case 3: // an unknown element or attribute
        s = s.replace(/<network([ >])/, `<network$1<${rng.pick(['foo', 'ip', 'name', 'dns:options xmlns:dns="urn:x"'])}/>`.replace('<network <', '<network><').replace('<network><', '<network><'))
        break
      case 4: // deep nesting inside the root
        s = s.replace(/<\/network>/, `${'<a>'.repeat(rng.pick([10, 1000, 20000]))}${'</a>'.repeat(rng.pick([10, 1000, 20000]))}</network>`)
        break
      case 5: // text injected where an element is
        s = s.slice(0, at) + rng.pick(['&', '<', ']]>', '<!--', '<?x?>', '<![CDATA[x]]>', '\0', '\ud800', '&lol;', '&#x0;']) + s.slice(at)
        break
      case 6: // element text changed
        s = s.replace(/<name>[^<]*<\/name>/, `<name>${rng.pick(['', ' ', 'a'.repeat(300), 'x y', 'é', 'default&amp;1', '\n'])}</name>`)
        break
      case 7:
        s = s.slice(0, at)
        break
      case 8:
        s = rng.pick([LAUGHS, EXTERNAL, PARAM])
        break
      default:
        s = replaceAttr(rng, s)
    }
  }
  return s
}

function verdict(xml: string): string | undefined {
  const started = performance.now()
  let spec: unknown
  const err = thrown(() => (spec = fromLibvirtXml(xml).spec))
  const ms = performance.now() - started
  if (ms > 3000) return `took ${Math.round(ms)} ms`
  if (err !== undefined) return err instanceof LibvirtImportError ? undefined : `threw ${err instanceof Error ? err.stack : String(err)}`
  const again = thrown(() => validateSpec(spec))
  if (again) return `imported a spec validateSpec refuses: ${String(again)}`
  if (JSON.stringify(spec).includes('root:x:0:0')) return 'an external entity was read'
  return undefined
}

t.test(`mutated libvirt XML: a valid spec or a LibvirtImportError, in bounded time (seed ${seed})`, async (t) => {
  const rng = new Rng(seed)
  let failures = 0
  let imported = 0
  for (let i = 0; i < ITERATIONS && failures < 5; i++) {
    const xml = mutateXml(rng, rng.pick(corpus))
    const bad = verdict(xml)
    if (bad) {
      failures++
      t.fail(`iteration ${i} (seed ${seed}): ${bad}\n  xml: ${show(xml, 1200)}`)
    } else if (thrown(() => fromLibvirtXml(xml)) === undefined) imported++
  }
  t.ok(imported > 0, `some mutations still import (${imported} of ${ITERATIONS})`)
})

t.test('entity tricks are refused, not expanded or fetched', async (t) => {
  for (const [what, xml] of [['billion laughs', LAUGHS], ['external entity', EXTERNAL]] as const) {
    const started = performance.now()
    const err = thrown(() => fromLibvirtXml(xml))
    t.type(err, LibvirtImportError, what)
    t.ok(performance.now() - started < 1000, `${what}: refused at once`)
  }
  // A parameter entity is neither fetched nor expanded (saxes reads no DTD): the document is what is left.
  t.equal(fromLibvirtXml(PARAM).spec.name, 'x', 'an external parameter entity: ignored, nothing fetched')
})

t.test('found by this test: deep nesting is refused at once', async (t) => {
  // Took 5-8 s for 20000 levels (saxes resolves namespaces through every enclosing element: quadratic).
  const xml = `<network><name>x</name>${'<a>'.repeat(20000)}${'</a>'.repeat(20000)}</network>`
  const started = performance.now()
  const err = thrown(() => fromLibvirtXml(xml))
  t.type(err, LibvirtImportError)
  t.match((err as LibvirtImportError).reason, /nested more than 64 deep/)
  t.ok(performance.now() - started < 1000, `${Math.round(performance.now() - started)} ms`)
})
