import { networkJsonSchema } from '../../network/index.js'
import { out } from '../output.js'

export default async function schema(): Promise<number> {
  out(JSON.stringify(networkJsonSchema(), null, 2))
  return 0
}
