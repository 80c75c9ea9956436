/**
 * What a libvirt network definition has that kvmnet cannot carry over faithfully, or input that is not a
 * libvirt network at all: a SpecError (exit 2 on the command line) naming the element and attribute as
 * libvirt spells them, so the user knows what to change rather than getting a different network.
 */
import { SpecError } from '../errors.js'

export class LibvirtImportError extends SpecError {
  override name = 'LibvirtImportError'
  /** The element as written, `<forward>`; '(xml)' when the document itself is not well-formed. */
  readonly element: string
  /** The attribute of it, '' when the element as a whole is the problem. */
  readonly attribute: string
  constructor(element: string, attribute: string, reason: string) {
    const where = attribute ? `${element.replace(/>$/, '')} ${attribute}>` : element
    super(where, reason)
    this.element = element
    this.attribute = attribute
  }
}
