/**
 * The CNI plugin's work as one CommonJS bundle (dist/cni-bundle.cjs; see tsup.config.ts): bin.ts loads it
 * with V8's code cache (util/compile-cache.ts). Each command's module is still evaluated only when that
 * command runs.
 */
export { main } from './main.js'
// The plugin's end without Node's teardown (native/fast-exit.ts); bin.ts installs it once the bundle is loaded.
export { installFastExit } from '../native/index.js'
