import { runDemo } from '../demo/run.js'
import type { CliArgs } from '../args.js'

export default async function demo(a: CliArgs): Promise<number> {
  return runDemo({ json: a.json })
}
