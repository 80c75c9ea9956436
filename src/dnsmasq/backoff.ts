/**
 * When to restart a dnsmasq that died. The first restart is immediate: a guest renewing its lease should
 * not notice. Repeated deaths back off (a config that makes it crash at once must not spin a core), and a
 * run that stayed up long enough counts as healthy again.
 */
export interface BackoffPolicy {
  /** Delay of the second restart in a row; doubles after that. */
  baseMs: number
  maxMs: number
  /** Uptime after which the next death counts as the first again. */
  healthyAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 5000, healthyAfterMs: 10_000 }

/** Delay before restart number `attempt` (0-based count of restarts in a row). */
export function restartDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (attempt <= 0) return 0
  return Math.min(policy.baseMs * 2 ** (attempt - 1), policy.maxMs)
}
