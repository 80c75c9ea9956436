/**
 * What nf_tables tells of the changes `act` makes in a namespace, as `nft monitor` prints them between two
 * marker tables added by hand. `nft monitor` subscribes some time after it starts (longer on a loaded
 * host), and a marker added before that is never printed: the first marker is added again until the
 * monitor has printed it, so the window always opens with the monitor listening.
 */
import type { TestNs } from './ns.js'

type Child = ReturnType<TestNs['spawn']>

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Resolves with true once `text` has appeared in what `child` printed from now on; false if it ended first. */
function printed(child: Child, text: string): Promise<boolean> {
  let seen = ''
  return new Promise((resolve) => {
    const on = (chunk: Buffer) => {
      seen += chunk.toString()
      if (!seen.includes(text)) return
      child.stdout?.off('data', on)
      resolve(true)
    }
    child.stdout?.on('data', on)
    void child.then(
      () => resolve(false),
      () => resolve(false),
    )
  })
}

/** Adds marker table `name` until the monitor prints it (at most 60 tries, 0.5 s each). */
async function mark(host: TestNs, monitor: Child, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const seen = printed(monitor, `table inet ${name}`)
    await host.run('nft', ['add', 'table', 'inet', name])
    const got = await Promise.race([seen, sleep(500).then(() => undefined)])
    if (got === true) return
    if (got === false) throw new Error(`nft monitor ended before it printed the marker ${name}`)
    if (attempt >= 60) throw new Error(`nft monitor did not print the marker ${name} in 30 s`)
    await host.run('nft', ['delete', 'table', 'inet', name])
  }
}

export async function nftChangesDuring(host: TestNs, markers: string, act: () => Promise<unknown>): Promise<string> {
  const monitor = host.spawn('nft', ['monitor'])
  let out = ''
  monitor.stdout?.on('data', (c: Buffer) => (out += c.toString()))
  const [ready, done] = [`${markers}ready`, `${markers}done`]
  try {
    await mark(host, monitor, ready)
    await act()
    await mark(host, monitor, done)
  } finally {
    monitor.kill()
    await host.try('nft', ['delete', 'table', 'inet', ready])
    await host.try('nft', ['delete', 'table', 'inet', done])
  }
  // From the marker the monitor printed last (earlier tries went unheard, or were deleted again before
  // it), to the first done marker after it (the monitor was listening by then).
  const start = out.lastIndexOf(`add table inet ${ready}`)
  return out.slice(start, out.indexOf(`add table inet ${done}`, start))
}
