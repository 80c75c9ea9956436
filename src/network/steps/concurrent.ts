/**
 * Independent steps run together (an apply then costs the slowest, not the sum). allSettled, not all:
 * every branch must have registered its undos before a rollback starts.
 */
export async function concurrently(...branches: (() => Promise<unknown>)[]): Promise<void> {
  const results = await Promise.allSettled(branches.map((b) => b()))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
}
