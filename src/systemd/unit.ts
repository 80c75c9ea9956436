/**
 * The systemd side of "survives reboot": kvmnet runs no daemon of its own; systemd supervises
 * `kvmnet up --foreground` through one template unit, `kvmnet@.service`, whose instance name is the
 * network's name and whose spec is the copy under /etc/kvmnet/NAME.json. Pure text, so the unit is
 * golden-tested without root.
 */

export interface UnitOptions {
  /** Absolute path of the Node binary that runs kvmnet (systemd does not search PATH for ExecStart). */
  node: string
  /** Absolute path of kvmnet's CLI script. */
  cli: string
  /** Where specs live (default /etc/kvmnet): ExecStart reads `${specDir}/%i.json`. */
  specDir: string
  /** Extra options given to every instance (`--netns NS`, `--state-root DIR`), already validated. */
  extraArgs: readonly string[]
}

/** systemd's quoting for ExecStart words: double quotes, with backslash escapes, when a word needs them. */
export function quoteExecWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$/g, '$$$$')}"`
}

export const TEMPLATE_NAME = 'kvmnet@.service'

export function renderTemplateUnit(o: UnitOptions): string {
  const exec = [o.node, o.cli, 'up', '--foreground', `${o.specDir}/%i.json`, ...o.extraArgs].map(quoteExecWord).join(' ')
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
ConditionPathExists=${o.specDir}/%i.json

[Service]
Type=exec
ExecStart=${exec}
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
