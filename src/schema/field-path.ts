import type { Path } from './schema.js'

/** "ipv4.dhcp.hosts[0].mac": a path as the user wrote it in JSON. */
export function fieldPath(path: Path): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out ? `.${p}` : p
  }
  return out
}
