/**
 * kvmnet-cni: a CNI plugin (spec 1.1.0; configurations of cniVersion 1.0.0 and 1.1.0) attaching
 * containers and VMs to a kvmnet network. The command comes from CNI_COMMAND, the configuration from
 * stdin; a result goes to stdout (ADD, VERSION), an error as the spec's error object on stdout with a
 * non-zero exit (and one line on stderr). Runtimes start a plugin per operation, so start-up is kept
 * short: VERSION loads nothing, and each command loads only its own module.
 */
import { attachmentEnv, MAX_CONTAINER_ID, readCommand, readEnv, type CniCommand } from './env.js'
import { CniCode, CniError, errorResult, toCniError } from './errors.js'
import { LATEST_VERSION, versionResult } from './version.js'
import { processIo, type PluginIo } from './stdio.js'

async function run(command: CniCommand, text: string, env: NodeJS.ProcessEnv, version: { value: string }): Promise<unknown> {
  const { decodeConfig, parseConfig, versionOf } = await import('./config.js')
  const data = decodeConfig(text)
  version.value = versionOf(data) ?? LATEST_VERSION
  const cfg = parseConfig(data, command, env)
  const e = readEnv(env)
  switch (command) {
    case 'ADD': {
      const a = attachmentEnv(e, { netnsRequired: true }) as ReturnType<typeof attachmentEnv> & { netns: string }
      return (await import('./add.js')).add(cfg, a)
    }
    case 'DEL': {
      const a = attachmentEnv(e, { netnsRequired: false, longIdAllowed: true })
      // ADD refuses such an id: nothing of it exists to release.
      if (a.containerId.length > MAX_CONTAINER_ID) return undefined
      return (await import('./del.js')).del(cfg, a)
    }
    case 'CHECK': {
      const a = attachmentEnv(e, { netnsRequired: true }) as ReturnType<typeof attachmentEnv> & { netns: string }
      return (await import('./check.js')).check(cfg, a)
    }
    case 'GC':
      return (await import('./gc.js')).gcAttachments(cfg)
    case 'STATUS':
      return (await import('./status.js')).status(cfg)
    case 'VERSION':
      return versionResult(data)
  }
}

/** Runs one CNI operation; the exit code. */
export async function main(env: NodeJS.ProcessEnv, io: PluginIo = processIo): Promise<number> {
  const version = { value: LATEST_VERSION }
  try {
    const command = readCommand(env)
    const text = await io.read().catch((err: Error) => {
      throw new CniError(CniCode.IoFailure, 'failed to read the configuration', err.message)
    })
    if (command === 'VERSION') {
      let input: unknown = {}
      try {
        input = text.trim() ? JSON.parse(text) : {}
      } catch (err) {
        throw new CniError(CniCode.DecodeFailure, 'failed to decode the version request', (err as Error).message)
      }
      io.out(`${JSON.stringify(versionResult(input))}\n`)
      return 0
    }
    // libnftables missing: one stderr line (the runtime logs it), the operation still done with the nft program.
    ;(await import('../nft/index.js')).onNftFallback((w) => io.err(`kvmnet-cni: warning: ${w.message}; fix: ${w.fix}\n`))
    const result = await run(command, text, env, version)
    if (result !== undefined) io.out(`${JSON.stringify(result)}\n`)
    return 0
  } catch (err) {
    const e = toCniError(err)
    io.out(`${JSON.stringify(errorResult(e, version.value))}\n`)
    io.err(`kvmnet-cni: ${e.message}${e.details ? `: ${e.details}` : ''}\n`)
    if (env.KVMNET_DEBUG && err instanceof Error) io.err(`${err.stack ?? ''}\n`)
    return 1
  }
}
