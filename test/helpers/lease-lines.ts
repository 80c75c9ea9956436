/**
 * Lines of a dnsmasq lease file as dnsmasq writes them: IPv4 leases (with and without a client id and a
 * hostname), the DUID line, IPv6 leases (IAID, DUID). Shared by the parser's tests and its property test.
 */
export const LEASE_LINES: readonly string[] = [
  '1767225600 52:54:00:AA:00:01 192.168.100.20 vm1 01:52:54:00:aa:00:01',
  '0 52:54:00:aa:00:02 192.168.100.21 * *',
  'duid 00:01:00:01:2c:00:00:00:52:54:00:00:00:01',
  '1767225600 12345678 fd00::20 vm1 00:01:00:01',
  '1767225600 1 fd00::21 vm2 00:03:00:01:52:54:00:aa:00:03',
  '0 7 fd00::22 * 00:01:00:01:2c:00:00:00:52:54:00:aa:00:04',
]
