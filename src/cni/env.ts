/**
 * The CNI protocol's parameters, from the environment (spec section 2): CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH. Checked as the spec words them; a missing or malformed one is
 * error 4 naming the variable.
 */
import { CniCode, CniError } from './errors.js'

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION'
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION']

export interface CniEnv {
  command: CniCommand
  containerId: string | undefined
  netns: string | undefined
  ifname: string | undefined
  /** CNI_ARGS as key → value ("K8S_POD_NAME=web;IgnoreUnknown=1"). */
  args: Record<string, string>
}

/** What an attachment command (ADD, DEL, CHECK) needs. */
export interface AttachmentEnv extends CniEnv {
  containerId: string
  ifname: string
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/**
 * The longest container id kvmnet-cni attaches: the attachment's link alias
 * (`kvmnet:<network, <=32>:cni/<id>/<ifname, <=15>@<8 hex>`) must fit the kernel's 255 bytes (IFALIASZ),
 * which also keeps the record file name (`<id>:<ifname>.json`) under NAME_MAX. Runtimes use 64 hex digits.
 */
export const MAX_CONTAINER_ID = 255 - 'kvmnet:'.length - 32 - ':cni/'.length - '/'.length - 15 - '@'.length - 8

/** The spec's rule for CNI_IFNAME: 1-15 bytes, not . or .., no /, : or whitespace. */
export function isCniIfname(s: string): boolean {
  return s !== '' && Buffer.byteLength(s) <= 15 && s !== '.' && s !== '..' && !/[/:\s]/.test(s)
}

export function isContainerId(s: string): boolean {
  return CONTAINER_ID.test(s)
}

export function parseCniArgs(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of (s ?? '').split(';')) {
    const i = pair.indexOf('=')
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1)
  }
  return out
}

export function readCommand(env: NodeJS.ProcessEnv): CniCommand {
  const c = env.CNI_COMMAND
  if (!c) throw new CniError(CniCode.InvalidEnvironment, 'invalid environment variables', 'CNI_COMMAND is not set')
  if (!(COMMANDS as readonly string[]).includes(c)) throw new CniError(CniCode.InvalidEnvironment, 'invalid environment variables', `CNI_COMMAND: unknown command '${c}' (${COMMANDS.join(', ')})`)
  return c as CniCommand
}

export function readEnv(env: NodeJS.ProcessEnv): CniEnv {
  return {
    command: readCommand(env),
    containerId: env.CNI_CONTAINERID || undefined,
    netns: env.CNI_NETNS || undefined,
    ifname: env.CNI_IFNAME || undefined,
    args: parseCniArgs(env.CNI_ARGS),
  }
}

/**
 * The attachment parameters of ADD/CHECK (CNI_NETNS required) or DEL (CNI_NETNS optional: the namespace
 * may be gone already). Every problem is named at once. DEL allows a container id too long for ADD
 * (`longIdAllowed`): nothing was made for it, so its DEL has nothing to do and succeeds.
 */
export function attachmentEnv(e: CniEnv, opts: { netnsRequired: boolean; longIdAllowed?: boolean }): AttachmentEnv {
  const bad: string[] = []
  if (e.containerId === undefined) bad.push('CNI_CONTAINERID is not set')
  else if (!isContainerId(e.containerId)) bad.push(`CNI_CONTAINERID '${e.containerId}' is not a container id (a letter or digit, then letters, digits, _ . -)`)
  else if (e.containerId.length > MAX_CONTAINER_ID && !opts.longIdAllowed)
    bad.push(`CNI_CONTAINERID is ${e.containerId.length} characters long; kvmnet-cni attaches container ids of up to ${MAX_CONTAINER_ID}`)
  if (e.ifname === undefined) bad.push('CNI_IFNAME is not set')
  else if (!isCniIfname(e.ifname)) bad.push(`CNI_IFNAME '${e.ifname}' is not an interface name (1-15 bytes; no /, : or whitespace)`)
  if (opts.netnsRequired && e.netns === undefined) bad.push('CNI_NETNS is not set')
  else if (e.netns !== undefined && !e.netns.startsWith('/')) bad.push(`CNI_NETNS '${e.netns}' is not an absolute path`)
  if (bad.length > 0) throw new CniError(CniCode.InvalidEnvironment, 'invalid environment variables', bad.join('; '))
  return e as AttachmentEnv
}
