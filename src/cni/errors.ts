/**
 * CNI errors: the well-known codes of the spec (section 5) and kvmnet-cni's own (100+). Every failure
 * reaches the runtime as `{ cniVersion, code, msg, details }` on stdout with a non-zero exit; kvmnet's
 * typed errors map to codes by class, never by message text.
 */
import { BusyError, NotFoundError, SpecError } from '../errors.js'

export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  LimitedConnectivity: 51,
  /** Anything unexpected (a kernel refusal, nft or dnsmasq failing). */
  Internal: 100,
  /** ADD: CNI_IFNAME already exists in the container. */
  InterfaceExists: 101,
  /** ADD: no free address left in the network's DHCP range. */
  AddressesExhausted: 102,
  /** ADD: a host port of runtimeConfig.portMappings is already forwarded to another guest. */
  PortTaken: 103,
  /** CHECK: the attachment is not as prevResult says (interface, address, route, reservation, forward). */
  AttachmentBroken: 104,
  /** CHECK: the network under the attachment is not healthy (bridge, nft, dnsmasq). */
  NetworkBroken: 105,
} as const

export class CniError extends Error {
  override name = 'CniError'
  readonly code: number
  readonly details: string | undefined
  constructor(code: number, msg: string, details?: string, options?: { cause?: unknown }) {
    super(msg, options)
    this.code = code
    this.details = details
  }
}

/** Any thrown value as a CniError: kvmnet's bad-input errors are invalid configuration, a held lock is "try again". */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err
  if (err instanceof SpecError) return new CniError(CniCode.InvalidConfig, 'invalid network configuration', err.message, { cause: err })
  if (err instanceof BusyError) return new CniError(CniCode.TryAgainLater, 'network busy', (err as Error).message, { cause: err })
  if (err instanceof NotFoundError) return new CniError(CniCode.Internal, 'not found', err.message, { cause: err })
  const message = err instanceof Error ? err.message : String(err)
  return new CniError(CniCode.Internal, 'kvmnet-cni failed', message, { cause: err })
}

/** The error result of the spec: what goes to stdout. */
export function errorResult(err: CniError, cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
  return { cniVersion, code: err.code, msg: err.message, ...(err.details !== undefined ? { details: err.details } : {}) }
}
