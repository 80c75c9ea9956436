#!/usr/bin/env bash
# Packaging smoke test: the tarball `npm pack` makes must work once installed WITHOUT a compiler, i.e. the
# native addon comes from prebuilds/ (npm 11 does not run dependencies' install scripts, and a user's
# machine may have no g++). Steps: pack (prepack builds the addon for linux-x64 and, cross-compiled,
# linux-arm64, and dist/), check that the tarball and `npm pack --dry-run --json` list both prebuilds,
# install the tarball into a scratch app with scripts disabled, then from that app create a namespace and a
# bridge in it through the public API, from both the ESM and the CJS entry points. Last, the `install`
# fallback: a no-op where the prebuild matches, a source build (this machine's g++) where none does.
#
# Needs root (it creates a network namespace). Touches nothing outside /tmp and one throwaway namespace
# named kvapack-*, which is removed on every exit path.
#
#   scripts/pack-smoke.sh            # packs the checkout this script lives in
#   KVMNET_ROOT=/path scripts/pack-smoke.sh
set -euo pipefail

root="${KVMNET_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
scratch="$(mktemp -d /tmp/kvmnet-pack-XXXXXX)"
namespaces=()

cleanup() {
  for ns in "${namespaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "npm pack in $root (prepack: build:native + build)"
# The build logs are long; keep them out of the way unless the pack fails.
if ! (cd "$root" && npm pack --pack-destination "$scratch" >"$scratch/pack.log" 2>&1); then
  tail -n 60 "$scratch/pack.log" >&2
  echo "npm pack failed" >&2
  exit 1
fi
tgz="$(ls "$scratch"/kvmnet-*.tgz)"
echo "$tgz"

step "tarball contents"
listing="$(tar -tzf "$tgz")"
for want in 'package/prebuilds/linux-x64/[^/]*\.node' 'package/prebuilds/linux-arm64/[^/]*\.node' \
  'package/native/install\.mjs' 'package/dist/index\.js' 'package/dist/index\.cjs' 'package/dist/index\.d\.ts'; do
  if ! grep -Eq "^${want}\$" <<<"$listing"; then
    echo "missing from the tarball: $want" >&2
    exit 1
  fi
done
if grep -Eq '^package/(native/)?build/' <<<"$listing"; then
  echo "the tarball ships a build tree" >&2
  exit 1
fi
grep -E '\.node$' <<<"$listing"

step "npm pack --dry-run --json lists both prebuilds"
# What npm itself reports it would pack (scripts off: prepack has just run for the real pack above).
(cd "$root" && npm pack --dry-run --json --ignore-scripts 2>/dev/null) >"$scratch/dry-run.json"
node - "$scratch/dry-run.json" <<'JS'
const [report] = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'))
const nodes = report.files.map((f) => f.path).filter((p) => p.endsWith('.node'))
for (const arch of ['linux-x64', 'linux-arm64']) {
  if (!nodes.some((p) => p.startsWith(`prebuilds/${arch}/`))) {
    console.error(`npm pack --dry-run --json lists no prebuilds/${arch}/*.node (it lists: ${nodes.join(', ') || 'none'})`)
    process.exit(1)
  }
}
console.log(nodes.join('\n'))
JS

step "install into a scratch app with install scripts disabled"
app="$scratch/app"
mkdir -p "$app"
(cd "$app" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund --prefer-offline "$tgz" >/dev/null)
if [ -e "$app/node_modules/kvmnet/build" ] || [ -e "$app/node_modules/kvmnet/native/build" ]; then
  echo "something compiled the addon during install" >&2
  exit 1
fi

# The namespace name is printed first thing, so the trap can remove it even if node dies mid-way.
cat >"$app/smoke.mjs" <<'JS'
import { execFileSync } from 'node:child_process'
import * as kvmnet from 'kvmnet'

const { Netns } = kvmnet
const ns = await Netns.create({ prefix: 'kvapack' })
console.log(`NS ${ns.name}`)
try {
  if (typeof kvmnet.Rtnl === 'function') {
    const rtnl = kvmnet.Rtnl.open(ns)
    try {
      await rtnl.addLink({ kind: 'bridge', name: 'kvapackbr0', up: true })
      const link = await rtnl.getLink('kvapackbr0')
      if (link.kind !== 'bridge') throw new Error(`expected a bridge, got ${JSON.stringify(link.kind)}`)
    } finally {
      rtnl.close()
    }
  } else {
    // Only until the rtnl layer is exported from the package root.
    execFileSync('ip', ['-n', ns.name, 'link', 'add', 'kvapackbr0', 'type', 'bridge'])
  }
  const shown = execFileSync('ip', ['-n', ns.name, '-d', 'link', 'show', 'kvapackbr0'], { encoding: 'utf8' })
  if (!/\bbridge\b/.test(shown)) throw new Error(`ip does not see the bridge:\n${shown}`)
  const tap = kvmnet.createTap(ns, { name: 'kvapacktap0', queues: 2 })
  if (tap.fds.length !== 2) throw new Error('expected 2 tap queues')
  tap.close()
  console.log('ESM: namespace, bridge and tap OK')
} finally {
  await ns.delete()
}
JS

cat >"$app/smoke.cjs" <<'JS'
const { Netns } = require('kvmnet')

;(async () => {
  const ns = await Netns.create({ prefix: 'kvapack' })
  console.log(`NS ${ns.name}`)
  try {
    const inside = ns.runSync(() => require('node:fs').readFileSync('/proc/thread-self/net/dev', 'utf8'))
    if (!/\blo:/.test(inside)) throw new Error('lo not seen inside the namespace')
    console.log('CJS: namespace OK')
  } finally {
    await ns.delete()
  }
})().catch((err) => {
  console.error(err)
  process.exit(1)
})
JS

run_smoke() {
  local out status=0
  out="$(cd "$app" && node "$1" 2>&1)" || status=$?
  printf '%s\n' "$out"
  while read -r tag name; do
    [ "$tag" = NS ] && namespaces+=("$name")
  done <<<"$out"
  return "$status"
}

step "ESM: import { Netns, Rtnl } from 'kvmnet'"
run_smoke smoke.mjs
step "CJS: require('kvmnet')"
run_smoke smoke.cjs

step "install fallback: nothing to build where the prebuild matches"
kv="$app/node_modules/kvmnet"
(cd "$app" && npm rebuild kvmnet --foreground-scripts 2>&1)
if [ -e "$kv/native/build" ]; then
  echo "the install script compiled although prebuilds/linux-x64 matches" >&2
  exit 1
fi

step "install fallback: a source build where no prebuild matches (linux-x64 prebuild removed)"
rm -rf "$kv/prebuilds/linux-x64"
(cd "$app" && npm rebuild kvmnet --foreground-scripts 2>&1 | grep -v '^gyp info')
if [ ! -f "$kv/native/build/Release/kvmnet.node" ]; then
  echo "the install script did not build native/build/Release/kvmnet.node" >&2
  exit 1
fi
step "CJS with the source-built addon"
run_smoke smoke.cjs

for ns in "${namespaces[@]}"; do
  if ip netns list | grep -qw "$ns"; then
    echo "namespace $ns was left behind" >&2
    exit 1
  fi
done
step "pack smoke OK"
