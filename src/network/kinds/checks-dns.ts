/** Relational checks of a network's DNS section: SRV fields in dnsmasq's positional order, forwarder forms, localOnly, no host record twice. */
import type { DnsSpec, IssueSink } from '../spec.js'

export function checkDnsRecords(dns: DnsSpec | undefined, bad: IssueSink): void {
  if (!dns) return
  if (dns.localOnly !== undefined && dns.domain === undefined) bad('dns.localOnly', 'says how names under dns.domain are answered: give dns.domain')
  dns.srv?.forEach((r, i) => {
    // srv-host is positional: a port needs a target, a priority a port, a weight a priority.
    const order = ['target', 'port', 'priority', 'weight'] as const
    order.forEach((k, j) => {
      const before = order[j - 1]
      if (r[k] !== undefined && before !== undefined && r[before] === undefined) bad(`dns.srv[${i}].${k}`, `needs ${before}`)
    })
  })
  // The same record twice: dnsmasq's own check refuses it when its config is rendered, after the bridge is made.
  const hosts = new Map<string, number>()
  dns.hosts?.forEach((h, i) => {
    const key = `${h.name.toLowerCase()} ${h.ip}`
    const prev = hosts.get(key)
    if (prev !== undefined) bad(`dns.hosts[${i}]`, `duplicates dns.hosts[${prev}]`)
    else hosts.set(key, i)
  })
  dns.forwarders?.forEach((f, i) => {
    if (typeof f !== 'string' && f.address === undefined && f.domain === undefined) bad(`dns.forwarders[${i}]`, 'needs address, domain or both')
  })
}
