/**
 * Which accelerator to give qemu. /dev/kvm being there is not enough: under some nested hypervisors KVM
 * opens fine and then stalls the guest (or stops it with "KVM internal error") before init runs. So KVM
 * is tried first and, once seen to stall, remembered as broken for this host kernel, and TCG is used.
 */
import { accessSync, constants as fsConstants, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { release, tmpdir } from 'node:os'
import { join } from 'node:path'

export type Accel = 'kvm' | 'tcg'

export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK)
    return true
  } catch {
    return false
  }
}

// Keyed by the host kernel: a new host kernel (or machine) gets KVM tried afresh.
function verdictFile(): string {
  return join(tmpdir(), `kvmnet-guest-kvm-broken-${release().replace(/[^A-Za-z0-9._-]/g, '_')}`)
}

export function kvmKnownBroken(): boolean {
  return existsSync(verdictFile())
}

export function markKvmBroken(why: string): void {
  writeFileSync(verdictFile(), `${why}\n`)
}

/** Why KVM was marked broken, if it was. */
export function kvmBrokenReason(): string | undefined {
  return kvmKnownBroken() ? readFileSync(verdictFile(), 'utf8').trim() : undefined
}

/** $KVMNET_GUEST_ACCEL when set, else KVM when usable and not known broken, else TCG. */
export function chooseAccel(): { accel: Accel; forced: boolean } {
  const env = process.env.KVMNET_GUEST_ACCEL
  if (env === 'kvm' || env === 'tcg') return { accel: env, forced: true }
  return { accel: kvmUsable() && !kvmKnownBroken() ? 'kvm' : 'tcg', forced: false }
}
