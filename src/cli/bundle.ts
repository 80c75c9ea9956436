/**
 * The CLI's commands as one CommonJS bundle (dist/cli-bundle.cjs; see tsup.config.ts): main.ts loads it
 * with V8's code cache (util/compile-cache.ts). Each command's module is still evaluated only when that
 * command runs.
 */
import type { CommandTable } from './run.js'

export { UsageError, fail, runCommand } from './run.js'
// The program's end without Node's teardown (native/fast-exit.ts); main.ts installs it once the bundle is loaded.
export { installFastExit } from '../native/index.js'

export const COMMANDS: CommandTable = {
  up: () => import('./commands/up.js'),
  down: () => import('./commands/down.js'),
  status: () => import('./commands/status.js'),
  list: () => import('./commands/status.js'),
  leases: () => import('./commands/leases.js'),
  addresses: () => import('./commands/addresses.js'),
  ports: () => import('./commands/ports.js'),
  'port-xml': () => import('./commands/port-xml.js'),
  gc: () => import('./commands/gc.js'),
  doctor: () => import('./commands/doctor.js'),
  plan: () => import('./commands/plan.js'),
  port: () => import('./commands/change.js'),
  forward: () => import('./commands/change.js'),
  reservation: () => import('./commands/change.js'),
  enable: () => import('./commands/enable.js'),
  disable: () => import('./commands/enable.js'),
  peer: () => import('./commands/peer.js'),
  demo: () => import('./commands/demo.js'),
  schema: () => import('./commands/schema.js'),
  'import-libvirt': () => import('./commands/import-libvirt.js'),
}
