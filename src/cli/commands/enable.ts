/**
 * `kvmnet enable SPEC.json` / `kvmnet disable NAME`: hand a network to systemd, so it comes back after a
 * reboot and is restarted when it fails. The spec is validated first and copied to /etc/kvmnet/NAME.json
 * (the unit reads that copy, so later edits of the original do not change a running host behind its
 * back); the template unit kvmnet@.service is written once and shared by every network; enabling an
 * instance is the same symlink `systemctl enable` makes. `--root DIR` writes under DIR instead of / (an
 * image being prepared, or a test), and then systemd is not asked to reload.
 */
import { existsSync, realpathSync } from 'node:fs'
import { mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { SpecError } from '../../errors.js'
import { validateSpec } from '../../network/index.js'
import { renderTemplateUnit, TEMPLATE_NAME } from '../../systemd/index.js'
import type { CliArgs } from '../args.js'
import { out } from '../output.js'
import { need, readSpec } from './common.js'
import { NETWORK_NAME_RULE, dirEntries, isNetworkName, readIfExists } from '../../util/index.js'

const SPEC_DIR = '/etc/kvmnet'
const UNIT_DIR = '/etc/systemd/system'
const WANTS_DIR = `${UNIT_DIR}/multi-user.target.wants`

function rootOf(a: CliArgs): string {
  const root = a.root ?? '/'
  if (!root.startsWith('/')) throw new SpecError('--root', `'${root}' is not an absolute path`)
  return root
}

/** systemd is running on this host (sd_booted()'s test) and is the one to tell about new units. */
function systemdManages(root: string): boolean {
  return root === '/' && existsSync('/run/systemd/system')
}

async function systemctl(...args: string[]): Promise<void> {
  await promisify(execFile)('systemctl', args)
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.kvmnet-${process.pid}`
  await writeFile(tmp, text, { mode: 0o644 })
  await rename(tmp, path)
}

/** The template is kvmnet's only when it carries the header kvmnet writes: anything else is left alone. */
async function isOurTemplate(path: string): Promise<boolean> {
  return (await readIfExists(path))?.startsWith('# Installed by `kvmnet enable`') ?? false
}

export async function enable(a: CliArgs): Promise<number> {
  const root = rootOf(a)
  const spec = validateSpec(await readSpec(need(a, 'SPEC')))
  // The unit runs this very kvmnet with this very Node: systemd does not search PATH, and a later `npm i -g`
  // of another version should not change what a host runs at boot without `kvmnet enable` again.
  const cli = realpathSync(process.argv[1] ?? '')
  const netns = a.netns ? resolve(a.netns.includes('/') ? a.netns : `/run/netns/${a.netns}`) : undefined
  const stateRoot = a['state-root'] ? resolve(a['state-root']) : undefined
  // Rendered before anything is written: an option no unit can carry (a newline) is refused here.
  const unit = renderTemplateUnit({ node: process.execPath, cli, specDir: SPEC_DIR, netns, stateRoot })
  const template = join(root, UNIT_DIR, TEMPLATE_NAME)
  if (existsSync(template) && !(await isOurTemplate(template))) {
    throw new SpecError('--root', `${template} exists and was not written by kvmnet; not replacing it`)
  }
  await writeAtomic(join(root, SPEC_DIR, `${spec.name}.json`), `${JSON.stringify(spec, null, 2)}\n`)
  await writeAtomic(template, unit)
  const link = join(root, WANTS_DIR, `kvmnet@${spec.name}.service`)
  await mkdir(dirname(link), { recursive: true })
  await rm(link, { force: true })
  await symlink(join(UNIT_DIR, TEMPLATE_NAME), link)
  if (systemdManages(root)) await systemctl('daemon-reload')
  if (a.json) out(JSON.stringify({ network: spec.name, unit: `kvmnet@${spec.name}.service`, spec: join(root, SPEC_DIR, `${spec.name}.json`), template, enabled: true }))
  else {
    out(`kvmnet@${spec.name}.service enabled (spec copied to ${join(root, SPEC_DIR, `${spec.name}.json`)}); it starts at boot`)
    out(`start it now: systemctl start kvmnet@${spec.name}   logs: journalctl -u kvmnet@${spec.name}`)
  }
  return 0
}

export async function disable(a: CliArgs): Promise<number> {
  const root = rootOf(a)
  const name = need(a, 'NAME')
  if (!isNetworkName(name)) throw new SpecError('NAME', `'${name}' is not a network name (${NETWORK_NAME_RULE})`)
  const link = join(root, WANTS_DIR, `kvmnet@${name}.service`)
  const specFile = join(root, SPEC_DIR, `${name}.json`)
  const existed = existsSync(link) || existsSync(specFile)
  // Stopping the instance takes the network down (kvmnet up --foreground does on SIGTERM).
  if (existed && systemdManages(root)) await systemctl('disable', '--now', `kvmnet@${name}.service`).catch(saidOnly)
  await rm(link, { force: true })
  await rm(specFile, { force: true })
  const template = join(root, UNIT_DIR, TEMPLATE_NAME)
  const others = (await dirEntries(join(root, SPEC_DIR))).filter((f) => f.endsWith('.json'))
  const templateRemoved = others.length === 0 && (await isOurTemplate(template))
  if (templateRemoved) await rm(template, { force: true })
  if (systemdManages(root)) await systemctl('daemon-reload').catch(saidOnly)
  if (a.json) out(JSON.stringify({ network: name, unit: `kvmnet@${name}.service`, disabled: true, existed, templateRemoved }))
  else out(existed ? `kvmnet@${name}.service disabled and its spec removed${templateRemoved ? `; ${TEMPLATE_NAME} removed (no network left)` : ''}` : `kvmnet: no unit for ${name}; nothing to do`)
  return 0
}

export default async function enableOrDisable(a: CliArgs): Promise<number> {
  return a.command === 'disable' ? disable(a) : enable(a)
}

/**
 * systemd could not be told (the instance was not loaded, or systemd is not running): said on stderr;
 * the files that make the unit are removed all the same, so nothing of it starts at the next boot.
 */
function saidOnly(err: unknown): void {
  process.stderr.write(`kvmnet: ${(err as Error).message}\n`)
}
