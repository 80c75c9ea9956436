/** The error a synchronous call throws (so a test can assert on its fields); fails if it does not throw. */
export function catchErr(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}
