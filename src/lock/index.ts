/** lock: the folder's face. */
export { acquireLock } from './file-lock.js'
export type { LockHandle } from './file-lock.js'
