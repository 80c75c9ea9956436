/**
 * Property test of kvmnet-cni's input: the configuration on stdin (mutated valid configurations, garbage
 * text) and the CNI_* environment. Whatever is wrong is a CniError with a numeric code — in the plugin's
 * output, one line of the spec's error JSON, never a stack — and whatever is accepted holds what the
 * commands rely on. No root: main() is only run on inputs its parsing refuses, so nothing is touched.
 * Reproduce a failure: KVMNET_FUZZ_SEED=<seed from the test name> npx tap test/unit/fuzz-cni-input.test.ts
 */
import t from 'tap'
import { CniError } from '../../src/cni/errors.js'
import { attachmentEnv, readEnv } from '../../src/cni/env.js'
import { decodeConfig, parseConfig } from '../../src/cni/config.js'
import { main } from '../../src/cni/main.js'
import { INJECTIONS, Rng, fuzzSeed, hostileValue, mutate, show, thrown } from '../helpers/fuzz.js'

const seed = fuzzSeed()
const ITERATIONS = Number(process.env.KVMNET_FUZZ_ITERATIONS ?? 800)

const network = { mode: 'nat', ipv4: { address: '10.88.0.1/24', dhcp: { range: ['10.88.0.10', '10.88.0.99'] } } }
const bases = [
  { cniVersion: '1.1.0', name: 'pods', type: 'kvmnet-cni', network },
  {
    cniVersion: '1.0.0',
    name: 'vms',
    type: 'kvmnet-cni',
    network: { ...network, name: 'vmnet' },
    attachment: 'tap',
    tap: { owner: 107, group: 107, queues: 2 },
    stateRoot: '/run/kvmnet',
    runtimeConfig: { mac: '52:54:00:12:34:56', portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '198.51.100.1' }] },
    prevResult: {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: '52:54:00:12:34:56', sandbox: '/run/netns/x', mtu: 1500 }],
      ips: [{ address: '10.88.0.10/24', gateway: '10.88.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }],
      dns: { nameservers: ['10.88.0.1'], search: ['x'], options: [], domain: 'x' },
    },
  },
]
const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC'] as const

function envOf(rng: Rng, command: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { CNI_COMMAND: command, CNI_CONTAINERID: 'abc123', CNI_NETNS: '/run/netns/k13fz', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web' }
  for (const k of Object.keys(env)) {
    if (!rng.chance(0.2)) continue
    const v = hostileValue(rng, env[k])
    if (v === undefined || rng.chance(0.2)) delete env[k]
    else env[k] = String(v).replaceAll('\0', '') // an environment cannot hold NUL
  }
  return env
}

/** What the commands rely on in an accepted configuration. */
function configProblem(cfg: ReturnType<typeof parseConfig>): string | undefined {
  if (!cfg.stateRoot.startsWith('/') || cfg.stateRoot.includes('\0')) return `stateRoot ${show(cfg.stateRoot)}`
  if (cfg.spec.ipv4?.dhcp === undefined) return 'no DHCP range'
  for (const m of cfg.portMappings) if (!Number.isInteger(m.hostPort) || !Number.isInteger(m.containerPort)) return `port mapping ${show(m)}`
  if (cfg.mac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(cfg.mac)) return `mac ${show(cfg.mac)}`
  return undefined
}

t.test(`configurations and environments: accepted as the commands need them, or a CniError (seed ${seed})`, async (t) => {
  const rng = new Rng(seed)
  let failures = 0
  let accepted = 0
  for (let i = 0; i < ITERATIONS && failures < 5; i++) {
    const command = rng.pick(COMMANDS)
    const data = mutate(rng, rng.pick(bases))
    const text = rng.chance(0.1) ? rng.pick([(JSON.stringify(data) ?? '').slice(0, rng.int(200)), rng.bytes(rng.int(100)).toString('latin1'), '', 'null', '[]', '"x"', '1e999']) : JSON.stringify(data) ?? ''
    const env = envOf(rng, command)
    let cfg: ReturnType<typeof parseConfig> | undefined
    const err = thrown(() => {
      cfg = parseConfig(decodeConfig(text), command, env)
      const e = readEnv(env)
      if (command !== 'STATUS' && command !== 'GC') attachmentEnv(e, { netnsRequired: command !== 'DEL', longIdAllowed: command === 'DEL' })
    })
    const what = `iteration ${i} (seed ${seed}) ${command}: ${show(text)} env ${show(env)}`
    if (err !== undefined && !(err instanceof CniError && Number.isInteger(err.code))) {
      failures++
      t.fail(`${what}: threw ${err instanceof Error ? err.stack : String(err)}`)
    } else if (err === undefined && cfg) {
      accepted++
      const why = configProblem(cfg)
      if (why) {
        failures++
        t.fail(`${what}: accepted with ${why}`)
      }
    }
  }
  t.ok(accepted > 0, `some mutations are still accepted (${accepted})`)
})

t.test(`the plugin's output for refused input: one line of error JSON with a code, no stack (seed ${seed})`, async (t) => {
  const rng = new Rng(seed + 3)
  let runs = 0
  for (let i = 0; i < 400 && runs < 40; i++) {
    const command = rng.pick(COMMANDS)
    const data = mutate(rng, rng.pick(bases))
    const text = JSON.stringify(data) ?? ''
    const env = envOf(rng, command)
    // Only what parsing refuses: an accepted configuration would have main() act.
    const refused = thrown(() => {
      parseConfig(decodeConfig(text), command, env)
      readEnv(env)
      if (command !== 'STATUS' && command !== 'GC') attachmentEnv(readEnv(env), { netnsRequired: command !== 'DEL', longIdAllowed: command === 'DEL' })
    })
    if (refused === undefined) continue
    runs++
    const out: string[] = []
    const errs: string[] = []
    const code = await main(env, { read: async () => text, out: (s) => out.push(s), err: (s) => errs.push(s) })
    const lines = out.join('').split('\n').filter(Boolean)
    let result: { code?: unknown; msg?: unknown } = {}
    const parseErr = thrown(() => (result = JSON.parse(lines[0] ?? '') as typeof result))
    if (code !== 1 || lines.length !== 1 || parseErr || !Number.isInteger(result.code) || typeof result.msg !== 'string' || /\n\s+at /.test(out.join('') + errs.join(''))) {
      t.fail(`iteration ${i} (seed ${seed}) ${command}: exit ${code}, stdout ${show(out.join(''))}, stderr ${show(errs.join(''))}\n  input ${show(text)}`)
      break
    }
  }
  t.ok(runs > 10, `${runs} refused inputs run through main()`)
})

t.test('found by this test: a stateRoot with NUL is invalid configuration (7), not an internal error', async (t) => {
  // Was accepted by parseConfig; the first file operation under it threw Node's TypeError
  // ERR_INVALID_ARG_VALUE, reported as code 100 'kvmnet-cni failed'.
  for (const stateRoot of ['/run/kvmnet\0x', `/run/${INJECTIONS[0]}`]) {
    const err = thrown(() => parseConfig(decodeConfig(JSON.stringify({ ...bases[0], stateRoot })), 'ADD'))
    t.type(err, CniError, show(stateRoot))
    t.equal((err as CniError).code, 7)
    t.match((err as CniError).details, /^stateRoot: /)
  }
})
