/**
 * The `<interface>` element that attaches a libvirt domain to a kvmnet port. kvmnet made the device
 * (a persistent tap on its bridge, or a macvtap on its parent NIC), so libvirt must use it as it is:
 * `type='ethernet'` with `<target dev=… managed='no'/>` opens the existing device by name (libvirt ≥ 5.7
 * for taps and macvtaps alike; checked with libvirt 9.0) and neither creates nor deletes it, nor moves it
 * to another bridge. `type='direct'` would make libvirt create a macvtap of its own, and
 * `type='bridge'` a tap of its own: neither would be kvmnet's port.
 *
 * Built by hand: three attributes, each escaped for a single-quoted XML attribute.
 */
import { NotFoundError, SpecError } from '../errors.js'

/** What the element needs of a port (kvmnet's PlannedPort and PortInfo both have it). */
export interface LibvirtPort {
  name: string
  kind: 'tap' | 'macvtap'
  /** The guest's MAC: libvirt gives it to QEMU, and kvmnet's reservations and filters match it. */
  mac: string
  /** Tap queues; more than one is multiqueue (`<driver queues=N/>`, libvirt opens each queue). */
  queues?: number | undefined
  /** false for a tap whose fds the creating process holds: libvirt cannot open it by name. */
  persistent?: boolean | undefined
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' }

/** `value` as the text of an XML attribute (either quote), every markup character escaped. */
export function xmlAttr(value: string): string {
  // XML 1.0 cannot carry these control characters at all, escaped or not.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value)) throw new SpecError('port', `${JSON.stringify(value)} has a control character XML cannot carry`)
  return value.replace(/[&<>'"]/g, (c) => ESCAPES[c] ?? c)
}

/** The `<interface>` element for `port`, indented by `indent` (a domain's `<devices>` takes it as is). */
export function libvirtInterfaceXml(port: LibvirtPort, indent = ''): string {
  if (port.persistent === false) {
    throw new SpecError(`port ${port.name}`, 'is not persistent (its fds are handed to the process that made it): libvirt opens a tap by name; use a persistent port')
  }
  const lines = [
    `<interface type='ethernet'>`,
    `  <mac address='${xmlAttr(port.mac)}'/>`,
    `  <target dev='${xmlAttr(port.name)}' managed='no'/>`,
    `  <model type='virtio'/>`,
    ...(port.kind === 'tap' && (port.queues ?? 1) > 1 ? [`  <driver queues='${port.queues}'/>`] : []),
    `</interface>`,
  ]
  return lines.map((l) => indent + l).join('\n') + '\n'
}

/** The element for the port named `name` among a network's `ports` (NotFoundError when it has none). */
export function portInterfaceXml(network: string, ports: readonly LibvirtPort[], name: string): string {
  const port = ports.find((p) => p.name === name)
  if (!port) throw new NotFoundError(`port ${name}`, `network ${network} has no port named ${name}`)
  return libvirtInterfaceXml(port)
}
