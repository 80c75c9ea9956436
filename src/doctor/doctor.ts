/**
 * doctor: what on this host stops a kvmnet network from working, named with the object responsible and
 * the fix. Read-only: it lists nftables chains (not rules of huge sets), sysctls, listening sockets and
 * routes of the namespace, and never changes anything.
 */
import { Netns } from '../netns/index.js'
import { nsCommand } from '../netns/exec.js'
import { Rtnl, readSysctl } from '../rtnl/index.js'
import { runProgram } from '../util/run-program.js'
import { managedNicFindings } from './managed-nic.js'
import { planFor } from '../network/kinds/index.js'
import { bridgeOf, dnsmasqOf, type NetworkPlan } from '../network/plan.js'
import { DEFAULT_STATE_ROOT, listStates, netnsIdentity, type NetworkState } from '../network/state.js'

export type FindingCode =
  | 'nft-foreign-drop'
  | 'docker-forward-drop'
  | 'br-netfilter-drop'
  | 'ip-forward-off'
  | 'port-in-use'
  | 'accept-ra-lost'
  | 'subnet-routed-elsewhere'
  | 'nic-managed'

export interface Finding {
  code: FindingCode
  severity: 'error' | 'warning'
  /** The network it concerns, when it is one network's problem. */
  network?: string
  /** What is responsible: a table/chain, a process, a sysctl, a route. */
  object: string
  problem: string
  fix: string
}

export interface DoctorReport {
  netns: string
  networks: string[]
  findings: Finding[]
}

export interface DoctorOptions {
  netns?: Netns | string
  stateRoot?: string
  /** Only this network (default: every network with state in the namespace). */
  network?: string
}

interface Chain {
  family: string
  table: string
  name: string
  hook?: string
  policy?: string
}

const HOOKS = new Set(['forward', 'input', 'prerouting', 'postrouting'])

async function nftChains(ns: Netns): Promise<Chain[]> {
  const c = nsCommand(ns, 'nft', ['-j', 'list', 'chains'])
  const r = await runProgram(c.file, c.args, { timeoutMs: 10_000 })
  if (r.exitCode !== 0) return []
  const doc = JSON.parse(r.stdout || '{"nftables":[]}') as { nftables: { chain?: Chain }[] }
  return doc.nftables.flatMap((x) => (x.chain ? [x.chain] : []))
}

/** Listening UDP/TCP sockets with their processes (ss -p), inside the namespace. */
async function listeners(ns: Netns): Promise<{ proto: string; addr: string; port: number; pid?: number; comm?: string }[]> {
  const out: { proto: string; addr: string; port: number; pid?: number; comm?: string }[] = []
  for (const [proto, flag] of [['udp', '-Hlnup'], ['tcp', '-Hlntp']] as const) {
    const cmd = nsCommand(ns, 'ss', [flag])
    const r = await runProgram(cmd.file, cmd.args, { timeoutMs: 10_000 })
    for (const line of r.stdout.split('\n')) {
      const f = line.trim().split(/\s+/)
      const local = f[3]
      if (!local) continue
      const at = local.lastIndexOf(':')
      const addr = local.slice(0, at).replace(/^\[|\]$/g, '').replace(/%.*$/, '')
      const m = line.match(/users:\(\("([^"]+)",pid=(\d+)/)
      out.push({ proto, addr, port: Number(local.slice(at + 1)), ...(m ? { comm: m[1], pid: Number(m[2]) } : {}) })
    }
  }
  return out
}

function forwards(plan: NetworkPlan): boolean {
  return plan.sysctls.some((s) => s.key === 'net/ipv4/ip_forward')
}

export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const ns = options.netns instanceof Netns ? options.netns : options.netns ? Netns.open(options.netns) : Netns.current()
  const here = netnsIdentity(ns)
  const states: NetworkState[] = (await listStates(options.stateRoot ?? DEFAULT_STATE_ROOT))
    .map((s) => s.state)
    .filter((s) => s.netnsId === here && (!options.network || s.name === options.network))
  const plans = states.map((s) => ({ state: s, plan: planFor(s.spec, options.stateRoot ?? DEFAULT_STATE_ROOT) }))
  const findings: Finding[] = []
  const chains = await nftChains(ns)

  // Base chains of other tables that drop by policy: a drop anywhere is final, whatever kvmnet accepts.
  const docker = chains.some((c) => c.name === 'DOCKER-USER')
  for (const c of chains) {
    if (c.table.startsWith('kvmnet_') || !c.hook || !HOOKS.has(c.hook) || c.policy !== 'drop') continue
    const object = `${c.family} ${c.table} ${c.name} (hook ${c.hook}, policy drop)`
    if (docker && c.family === 'ip' && c.table === 'filter' && c.name === 'FORWARD') {
      findings.push({ code: 'docker-forward-drop', severity: 'error', object, problem: "Docker's FORWARD policy DROP drops guests' forwarded traffic", fix: 'accept the bridges in DOCKER-USER: iptables -I DOCKER-USER -i <bridge> -j ACCEPT; iptables -I DOCKER-USER -o <bridge> -j ACCEPT' })
    } else {
      findings.push({ code: 'nft-foreign-drop', severity: c.hook === 'forward' || c.hook === 'input' ? 'error' : 'warning', object, problem: `another table's ${c.hook} chain drops what it does not accept, kvmnet's networks included`, fix: `accept the bridges in ${c.family} ${c.table} ${c.name} (e.g. iifname "kvbr-*" accept), or use that firewall's own zones` })
    }
  }
  const forwardDrop = chains.some((c) => c.hook === 'forward' && c.policy === 'drop' && c.family !== 'bridge' && !c.table.startsWith('kvmnet_'))
  const brNf = (await readSysctl(ns, 'net/bridge/bridge-nf-call-iptables').catch(() => '0')).trim()
  if (brNf === '1' && forwardDrop && plans.length > 0) {
    findings.push({ code: 'br-netfilter-drop', severity: 'error', object: 'net.bridge.bridge-nf-call-iptables=1', problem: "bridged guest <-> guest frames cross the forward hook, where another firewall's drop policy drops them", fix: 'accept the bridges in that forward chain, or set net.bridge.bridge-nf-call-iptables=0 if nothing needs it' })
  }

  const rtnl = Rtnl.open(ns)
  try {
    const ipForward = (await readSysctl(ns, 'net/ipv4/ip_forward').catch(() => '0')).trim()
    const listening = plans.some((p) => dnsmasqOf(p.plan)) ? await listeners(ns) : []
    for (const { state, plan } of plans) {
      if (forwards(plan) && ipForward !== '1') {
        findings.push({ code: 'ip-forward-off', severity: 'error', network: state.name, object: 'net.ipv4.ip_forward=0', problem: `${state.name} routes guests to the outside, but forwarding is off`, fix: `kvmnet up ${state.name}'s spec again (it sets ip_forward), or sysctl -w net.ipv4.ip_forward=1` })
      }
      const d = dnsmasqOf(plan)
      if (d) {
        const ours = new Set<number>()
        const pidText = await import('node:fs/promises').then((fs) => fs.readFile(`${state.dnsmasq?.stateDir ?? ''}/dnsmasq.pid`, 'utf8')).catch(() => '')
        if (Number(pidText) > 0) ours.add(Number(pidText))
        const wanted = [{ proto: 'udp', port: 67 }, ...(d.dns !== false ? [{ proto: 'udp', port: 53 }, { proto: 'tcp', port: 53 }] : [])]
        for (const l of listening) {
          if (!wanted.some((w) => w.proto === l.proto && w.port === l.port)) continue
          if (l.addr !== d.hostAddress && l.addr !== '0.0.0.0' && l.addr !== '*') continue
          if (l.pid !== undefined && ours.has(l.pid)) continue
          if (l.comm === 'dnsmasq' && l.pid === undefined) continue
          findings.push({ code: 'port-in-use', severity: 'error', network: state.name, object: `${l.comm ?? 'a process'}${l.pid ? ` (pid ${l.pid})` : ''} on ${l.proto} ${l.addr}:${l.port}`, problem: `${state.name}'s dnsmasq needs ${l.proto}/${l.port} on ${d.hostAddress}`, fix: `stop that process, or give ${state.name} another address` })
        }
      }
      // IPv6 forwarding makes the kernel ignore RAs where accept_ra is 1.
      if (plan.sysctls.some((s) => s.key === 'net/ipv6/conf/all/forwarding')) {
        const def = (await rtnl.listRoutes({ family: 6 })).find((r) => r.dst === 'default' && r.protocol === 9)
        const dev = def?.devName ?? (def?.dev !== undefined ? (await rtnl.findLink(def.dev))?.name : undefined)
        if (dev && (await readSysctl(ns, `net/ipv6/conf/${dev}/accept_ra`).catch(() => '')).trim() === '1' && (await readSysctl(ns, 'net/ipv6/conf/all/forwarding').catch(() => '0')).trim() === '1') {
          findings.push({ code: 'accept-ra-lost', severity: 'warning', network: state.name, object: `net.ipv6.conf.${dev}.accept_ra=1`, problem: `with IPv6 forwarding on, ${dev} ignores router advertisements and will lose its RA default route`, fix: `kvmnet up ${state.name}'s spec again (it sets accept_ra=2 there), or sysctl -w net.ipv6.conf.${dev}.accept_ra=2` })
        }
      }
      // Another device routing the network's subnet.
      const bridge = bridgeOf(plan)
      const sub = 'subnet' in plan ? plan.subnet : undefined
      if (sub && bridge) {
        for (const r of await rtnl.listRoutes({ family: 4, table: 254 })) {
          if (r.dst !== sub || r.devName === bridge) continue
          findings.push({ code: 'subnet-routed-elsewhere', severity: 'error', network: state.name, object: `route ${r.dst} dev ${r.devName ?? r.dev}`, problem: `${state.name}'s subnet is also routed through ${r.devName ?? `ifindex ${r.dev}`}`, fix: 'remove that route, or move the network to another subnet' })
        }
      }
    }
    findings.push(...(await managedNicFindings(ns, rtnl, plans)))
  } finally {
    rtnl.close()
  }
  return { netns: ns.name ?? ns.path, networks: states.map((s) => s.name), findings }
}
