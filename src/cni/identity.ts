/**
 * What an attachment — (network, CNI_CONTAINERID, CNI_IFNAME), the spec's key — is called on the host,
 * derived so that every process (ADD, a DEL after a crash, GC) finds the same things: the host end of the
 * veth, the tap attachment's inner veth end, the container MAC, the alias tagging the host end, the
 * record file and the DNS name.
 */
import { sha256 } from '../util/index.js'
import { attachmentRole, linkAlias, machineId } from '../network/index.js'

export interface AttachmentKey {
  network: string
  containerId: string
  ifname: string
}

function digest(s: string): Buffer {
  return sha256(s)
}

function keyString(k: AttachmentKey): string {
  return `${k.network}/${k.containerId}/${k.ifname}`
}

/** The host end of the attachment's veth: `kvc-` + 10 hex digits (14 bytes, under IFNAMSIZ). */
export function hostIfname(k: AttachmentKey): string {
  return `kvc-${digest(`host:${keyString(k)}`).toString('hex').slice(0, 10)}`
}

/** The tap attachment's veth end inside the container, beside the tap (`kvp-` + 10 hex digits). */
export function innerIfname(k: AttachmentKey): string {
  return `kvp-${digest(`inner:${keyString(k)}`).toString('hex').slice(0, 10)}`
}

/**
 * The container interface's MAC (the guest's, for a tap): locally administered and unicast (02:...), five
 * bytes of hash of this host and the attachment — stable across retries, so an ADD retried after a failure
 * finds its own reservation again.
 */
export function attachmentMac(k: AttachmentKey, host: string = machineId()): string {
  const d = digest(`mac:${host}/${keyString(k)}`)
  return [0x02, ...d.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0')).join(':')
}

/** The alias of the host end: the network's tag with the attachment in the role, for down, gc and GC. */
export function attachmentAlias(k: AttachmentKey, rootTag: string): string {
  return linkAlias(k.network, attachmentRole(k.containerId, k.ifname), rootTag)
}

/** The record file of an attachment (in the network's state directory, cni/). */
export function recordFileName(k: Pick<AttachmentKey, 'containerId' | 'ifname'>): string {
  // Neither a container id nor a CNI interface name contains ':'.
  return `${k.containerId}:${k.ifname}.json`
}

const LABEL_MAX = 63
const KEYWORD = /^(\d+[smhdw]?|infinite|ignore)$/i

/** `s` made into one DNS label (letters, digits, hyphens), or undefined when nothing usable is left. */
export function dnsLabel(s: string): string | undefined {
  const label = s
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .slice(0, LABEL_MAX)
    .replace(/^-+|-+$/g, '')
  if (label === '' || KEYWORD.test(label)) return undefined
  return label
}

/**
 * DNS names to try for the reservation, best first: the runtime's name for the container (CNI_ARGS
 * K8S_POD_NAME — Podman passes the container name there), else the container id's first 12 characters
 * (the short id `podman ps` shows); then either with the interface name appended, for a second attachment
 * of one container.
 */
export function nameCandidates(k: AttachmentKey, args: Record<string, string>): string[] {
  const base = dnsLabel(args.K8S_POD_NAME ?? '') ?? dnsLabel(k.containerId.slice(0, 12))
  if (!base) return []
  const withIf = dnsLabel(`${base.slice(0, LABEL_MAX - 1 - k.ifname.length)}-${k.ifname}`)
  return withIf && withIf !== base ? [base, withIf] : [base]
}
