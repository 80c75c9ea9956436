/**
 * firewalld: an interface in no zone falls into the default zone (public), which rejects guests' DHCP and
 * DNS and every forwarded packet. kvmnet binds the bridge, at runtime only (the network does not outlive a
 * reboot either), to firewalld's built-in `trusted` zone — like libvirt's own `libvirt` zone it lets the
 * bridge's traffic through, and kvmnet's own table keeps deciding what passes (host.services, NAT,
 * isolation). A bridge the administrator already put in a zone is left where it is.
 */
import type { NetnsRef } from '../netns/index.js'
import { mustRun, runTool } from './run.js'

export const KVMNET_ZONE = 'trusted'

/** The zone an interface is bound to, undefined when none (firewall-cmd exits 2, "no zone"). */
export async function zoneOfInterface(ns: NetnsRef, iface: string): Promise<string | undefined> {
  const r = await runTool(ns, 'firewall-cmd', [`--get-zone-of-interface=${iface}`])
  if (r.exitCode === 0) return r.stdout.trim() || undefined
  if (r.exitCode === 2 && /no zone/.test(r.stdout + r.stderr)) return undefined
  await mustRun(ns, 'firewall-cmd', [`--get-zone-of-interface=${iface}`])
  return undefined
}

/** Bind the bridge to kvmnet's zone unless it is in one; the zone kvmnet bound it to (now or before), if any. */
export async function ensureZone(ns: NetnsRef, iface: string, recorded: string | undefined): Promise<{ zone: string | undefined; added: boolean }> {
  const now = await zoneOfInterface(ns, iface)
  if (now !== undefined) return { zone: recorded !== undefined && now === recorded ? recorded : undefined, added: false }
  await mustRun(ns, 'firewall-cmd', [`--zone=${KVMNET_ZONE}`, `--add-interface=${iface}`])
  return { zone: KVMNET_ZONE, added: true }
}

/** Unbind the bridge from the zone kvmnet put it in, if it is still there. */
export async function removeZone(ns: NetnsRef, iface: string, zone: string): Promise<boolean> {
  if ((await zoneOfInterface(ns, iface)) !== zone) return false
  await mustRun(ns, 'firewall-cmd', [`--zone=${zone}`, `--remove-interface=${iface}`])
  return true
}

export function firewalldFixCommands(bridge: string): string[] {
  return [`firewall-cmd --zone=${KVMNET_ZONE} --add-interface=${bridge}`, `firewall-cmd --permanent --zone=${KVMNET_ZONE} --add-interface=${bridge}`]
}
