/**
 * The systemd side of "survives reboot": kvmnet runs no daemon of its own; systemd supervises
 * `kvmnet up --foreground` through one template unit, `kvmnet@.service`, whose instance name is the
 * network's name and whose spec is the copy under /etc/kvmnet/NAME.json. Pure text, so the unit is
 * golden-tested without root.
 */
import { SpecError } from '../errors.js'

export interface UnitOptions {
  /** Absolute path of the Node binary that runs kvmnet (systemd does not search PATH for ExecStart). */
  node: string
  /** Absolute path of kvmnet's CLI script. */
  cli: string
  /** Where specs live (default /etc/kvmnet): ExecStart reads `${specDir}/%i.json`. */
  specDir: string
  /** `--netns` given to every instance (an absolute path), if any. */
  netns?: string | undefined
  /** `--state-root` given to every instance (an absolute path), if any. */
  stateRoot?: string | undefined
}

/**
 * A character no unit file can carry inside a word: a line break would end the directive and start
 * another (`ExecStartPre=` as root), other control characters have no business in a path. systemd reads
 * U+0085, U+2028 and U+2029 as text, but editors and journals show them as line breaks: refused too.
 */
const UNWRITABLE = /[\u0000-\u001f\u007f\u0085\u2028\u2029]/

/** Characters that need no quoting in an ExecStart word (`%` is doubled either way). */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/

/** `%` starts a specifier wherever systemd expands them (ExecStart, ConditionPathExists): `%%` is a `%`. */
function literalPercent(text: string): string {
  return text.replace(/%/g, '%%')
}

/**
 * One literal ExecStart word as systemd.service(5) "Command lines" reads it: `%` doubled, `$` doubled
 * (no variable expansion), double quotes with `\` and `"` escaped when the word has anything outside
 * PLAIN. A word no unit can hold is refused as bad input naming `field`, the option it came from.
 */
export function execWord(word: string, field: string): string {
  const bad = UNWRITABLE.exec(word)
  if (bad) {
    const code = bad[0].codePointAt(0)?.toString(16).padStart(4, '0') ?? ''
    throw new SpecError(field, `contains U+${code.toUpperCase()}, which a systemd unit cannot hold in a command line`)
  }
  const text = literalPercent(word)
  if (PLAIN.test(text)) return text
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$/g, '$$$$')}"`
}

export const TEMPLATE_NAME = 'kvmnet@.service'

export function renderTemplateUnit(o: UnitOptions): string {
  const specDir = execWord(o.specDir, 'specDir')
  const exec = [
    execWord(o.node, 'node'),
    execWord(o.cli, 'cli'),
    'up',
    '--foreground',
    // The one specifier kvmnet means: the instance name. specDir is plain (checked above) or quoted.
    specDir.startsWith('"') ? `${specDir.slice(0, -1)}/%i.json"` : `${specDir}/%i.json`,
    ...(o.netns === undefined ? [] : ['--netns', execWord(o.netns, '--netns')]),
    ...(o.stateRoot === undefined ? [] : ['--state-root', execWord(o.stateRoot, '--state-root')]),
  ].join(' ')
  const condition = literalPercent(o.specDir)
  return `# Installed by \`kvmnet enable\`; removed by \`kvmnet disable\` with its last instance.
# One instance per network: systemctl enable --now kvmnet@NAME (spec: ${o.specDir}/NAME.json).
[Unit]
Description=kvmnet virtual network %i
Documentation=man:systemd.service(5)
# kvmnet's nft tables go in after the host firewall has loaded its own (a ruleset flush at its start
# would remove them), and the network is there before anything that waits for the network to be online.
After=nftables.service firewalld.service ufw.service docker.service network-pre.target
Wants=network-pre.target
Before=network-online.target
ConditionPathExists=${condition}/%i.json

[Service]
Type=exec
ExecStart=${exec}
# systemctl reload kvmnet@NAME: the running kvmnet reads NAME.json again and converges to it (guests,
# leases and open connections kept), as SIGHUP does under up --foreground.
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM reaches kvmnet alone, which takes the network down and stops its dnsmasq; whatever is left after
# the timeout is killed.
KillMode=mixed
TimeoutStopSec=30
Restart=on-failure
RestartSec=2s
StandardOutput=journal
StandardError=journal
SyslogIdentifier=kvmnet-%i

[Install]
WantedBy=multi-user.target
`
}
