/**
 * The test guest (test/helpers/qemu.ts's kernel and busybox initramfs) as a libvirt domain: defined and
 * started through virsh on a private libvirtd (libvirtd.ts), QEMU under TCG (domain type 'qemu'), its
 * serial console written to a file that is read for the guest's KVMNET-RESULT lines. The network part is
 * the caller's `<interface>` element, exactly what a libvirt user would paste.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checksCmdline, type GuestChecks } from './guest-image/checks.js'
import { buildGuestInitramfs } from './guest-image/image.js'
import { findGuestKernel } from './guest-image/kernel.js'
import { parseGuestSerial, type GuestResults } from './guest-image/report.js'
import type { Libvirtd } from './libvirtd.js'
import { waitFor } from './ns.js'

export interface LibvirtGuest {
  name: string
  /** The domain XML given to `virsh define`. */
  xml: string
  /** The serial console so far. */
  serial(): string
  /** Wait until the guest's init has reported everything (`done`) and return what it reported. */
  results(timeoutMs?: number): Promise<GuestResults>
  /** Wait until the domain has powered itself off (its init does after `done`; a moment later). */
  shutOff(timeoutMs?: number): Promise<void>
}

export async function startLibvirtGuest(lv: Libvirtd, o: { name: string; interfaceXml: string; checks: GuestChecks; dhcpTries?: number }): Promise<LibvirtGuest> {
  const kernel = findGuestKernel()
  const initrd = await buildGuestInitramfs({ kernel })
  const serialPath = join(lv.dir, `${o.name}.serial`)
  // no_timer_check: see test/helpers/qemu.ts (the IO-APIC timer check panics under TCG on a busy host).
  const cmdline = ['console=ttyS0', 'panic=-1', 'no_timer_check', 'quiet', 'loglevel=3', ...checksCmdline(o.checks), `kvmnet.dhcptries=${o.dhcpTries ?? 30}`].join(' ')
  const xml = `<domain type='qemu'>
  <name>${o.name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${kernel}</kernel>
    <initrd>${initrd}</initrd>
    <cmdline>${cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
${o.interfaceXml.replace(/^/gm, '    ').trimEnd()}
    <serial type='file'><source path='${serialPath}'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
`
  const file = join(lv.dir, `${o.name}.xml`)
  writeFileSync(file, xml)
  await lv.virsh(['define', file])
  await lv.virsh(['start', o.name])
  const serial = (): string => (existsSync(serialPath) ? readFileSync(serialPath, 'utf8') : '')
  return {
    name: o.name,
    xml,
    serial,
    async results(timeoutMs = 240_000) {
      try {
        await waitFor(() => parseGuestSerial(serial()).done, timeoutMs, 500)
      } catch (err) {
        throw new Error(`guest ${o.name} did not finish: ${(err as Error).message}\n--- serial (tail) ---\n${serial().slice(-3000)}`)
      }
      return parseGuestSerial(serial())
    },
    async shutOff(timeoutMs = 60_000) {
      await waitFor(async () => /shut off/.test(await lv.virsh(['domstate', o.name])), timeoutMs, 250)
    },
  }
}
