import type { NetnsRef } from '../netns/index.js'
import type { RtnlSocket } from './socket.js'

/** What the per-concern operations share: the socket, and the namespace it belongs to. */
export interface RtnlContext {
  sock: RtnlSocket
  ns: NetnsRef | undefined
}
