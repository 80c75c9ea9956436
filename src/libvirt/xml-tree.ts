/**
 * libvirt's XML read into a small element tree with saxes, a conformant streaming XML parser: it refuses
 * what is not well-formed XML (unclosed or mismatched tags, duplicate attributes, undefined entities,
 * text after the root) with the line and column, and never fetches or expands external entities.
 * Chosen over fast-xml-parser (which accepted two root elements and an undefined entity, loaded in 8 ms
 * and parsed libvirt's 73 network test files in 8 ms) and @xmldom/xmldom (21-27 ms to load, 6 ms to
 * parse); saxes loads in 3.4 ms and parses them in 1.2 ms, 292 KiB with its one dependency (xmlchars).
 *
 * Every attribute and child an importer reads is marked as used, so that whatever it did not read can be
 * named and refused: an element kvmnet does not know is never dropped silently.
 */
import { createRequire } from 'node:module'
import type { SaxesParser as Parser } from 'saxes'
import { LibvirtImportError } from './import-error.js'

/** saxes is required on first use, so loading kvmnet (or its CLI) does not load the parser. */
let saxes: { SaxesParser: typeof Parser } | undefined
function parserClass(): typeof Parser {
  saxes ??= createRequire(import.meta.url)('saxes') as { SaxesParser: typeof Parser }
  return saxes.SaxesParser
}

export class XmlElement {
  /** The qualified name as written (`dnsmasq:options`). */
  readonly name: string
  /** The element's namespace URI ('' for libvirt's own, unnamespaced elements). */
  readonly uri: string
  readonly line: number
  readonly children: XmlElement[] = []
  text = ''
  private readonly attrs: Map<string, string>
  private readonly usedAttrs = new Set<string>()
  private readonly usedChildren = new Set<XmlElement>()

  constructor(name: string, uri: string, attrs: Map<string, string>, line: number) {
    this.name = name
    this.uri = uri
    this.attrs = attrs
    this.line = line
  }

  /** The attribute's value (marked as read), or undefined. */
  attr(name: string): string | undefined {
    this.usedAttrs.add(name)
    return this.attrs.get(name)
  }

  /** Whether the element has the attribute, without reading it. */
  has(name: string): boolean {
    return this.attrs.has(name)
  }

  /** The children of this name (each marked as read). */
  all(name: string): XmlElement[] {
    const found = this.children.filter((c) => c.uri === '' && c.name === name)
    for (const c of found) this.usedChildren.add(c)
    return found
  }

  /** The one child of this name; a second one is refused (libvirt reads only the first). */
  one(name: string): XmlElement | undefined {
    const found = this.all(name)
    if (found.length > 1) throw new LibvirtImportError(`<${name}>`, '', `appears ${found.length} times in <${this.name}>; libvirt uses only the first, so which one was meant is not clear`)
    return found[0]
  }

  /** Marks children as deliberately skipped (read, with no meaning for kvmnet). */
  skip(name: string): XmlElement[] {
    return this.all(name)
  }

  /** The first attribute or child nobody read, as `<name attr>` / `<name>`: what cannot be carried over. */
  unread(): { element: string; attribute: string } | undefined {
    for (const a of this.attrs.keys()) if (!this.usedAttrs.has(a)) return { element: `<${this.name}>`, attribute: a }
    for (const c of this.children) if (!this.usedChildren.has(c)) return { element: `<${c.name}>`, attribute: '' }
    return undefined
  }
}

/** Far deeper than any libvirt network definition (<network><ip><dhcp><host> is four). */
const MAX_DEPTH = 64

/** Parses a document; a LibvirtImportError naming line and column for anything that is not well-formed XML. */
export function parseXml(xml: string): XmlElement {
  const SaxesParser = parserClass()
  const parser = new SaxesParser({ xmlns: true, position: true })
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  let failure: Error | undefined
  parser.on('error', (e) => {
    failure ??= e
  })
  parser.on('opentag', (tag) => {
    // saxes resolves each tag's namespaces through every enclosing one: nesting costs quadratic time
    // (20000 levels: 5-8 s). libvirt's network XML is a few levels deep; the parse stops here.
    if (stack.length >= MAX_DEPTH) throw new Error(`elements nested more than ${MAX_DEPTH} deep (line ${parser.line})`)
    const attrs = new Map<string, string>()
    for (const a of Object.values(tag.attributes)) {
      // Namespace declarations are how names are spelled, not settings.
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue
      attrs.set(a.name, a.value)
    }
    const el = new XmlElement(tag.name, tag.uri ?? '', attrs, parser.line)
    const parent = stack.at(-1)
    if (parent) parent.children.push(el)
    else root = el
    stack.push(el)
  })
  parser.on('text', (t) => {
    const top = stack.at(-1)
    if (top) top.text += t
  })
  parser.on('closetag', () => {
    stack.pop()
  })
  try {
    parser.write(xml).close()
  } catch (e) {
    failure ??= e instanceof Error ? e : new Error(String(e))
  }
  if (failure) throw new LibvirtImportError('(xml)', '', `not well-formed XML: ${failure.message}`)
  if (!root) throw new LibvirtImportError('(xml)', '', 'no XML element in the input')
  return root
}
