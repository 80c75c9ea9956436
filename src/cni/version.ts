/** The CNI spec versions kvmnet-cni speaks: 1.0.0 (libcni 1.1, Podman 4) and 1.1.0 (STATUS, GC). */
export const SUPPORTED_VERSIONS = ['1.0.0', '1.1.0'] as const
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number]
export const LATEST_VERSION: CniVersion = '1.1.0'

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)
}

/** The VERSION command's answer: `cniVersion` is the one given on input (the spec's rule), else the latest. */
export function versionResult(input: unknown): { cniVersion: string; supportedVersions: string[] } {
  const asked = (input as { cniVersion?: unknown } | null)?.cniVersion
  return { cniVersion: typeof asked === 'string' && asked !== '' ? asked : LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] }
}
