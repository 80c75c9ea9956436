/**
 * The one implementation behind both public entries and both module systems: `kvmnet` (root) and
 * `kvmnet/wire`, each in ESM and CJS, are thin re-exports of this bundle (dist/core.cjs), so every class
 * exists once — `instanceof SpecError` holds whichever way an application loaded kvmnet.
 */
export * as root from './index.js'
export * as wire from './wire.js'
