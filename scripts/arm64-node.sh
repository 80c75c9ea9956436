#!/usr/bin/env bash
# Prepares a private arm64 root holding Debian's arm64 `nodejs` and its runtime dependency closure, for
# loading the linux-arm64 prebuild under qemu-user (test/integration/prebuild-arm64.test.ts):
#
#   root="$(scripts/arm64-node.sh)"
#   qemu-aarch64 -L "$root" "$root/usr/bin/node" -e 'console.log(process.arch)'
#
# Nothing is installed and dpkg's configuration is not touched (no `dpkg --add-architecture`): apt runs with
# a private state directory of its own (package lists, an empty dpkg status, cache, locks) in which arm64 is
# the native architecture, so `apt-get install --download-only nodejs` resolves the closure exactly as on
# an arm64-only machine (Depends/Pre-Depends, no Recommends) and fetches the .debs into that directory;
# `dpkg -x` unpacks them into the root. The sources are the machine's own (/etc/apt/sources.list*); a
# source without arm64 is skipped by apt. Debian 12's arm64 node is 18, enough to load an N-API addon.
#
# Idempotent and fast once done: an existing, complete root (stamp file) is reused; --refresh rebuilds it.
# The root is built beside its final place and renamed into it, so an interrupted run leaves no half root.
# Prints the root's path (and only that) on stdout; progress goes to stderr.
#
#   KVMNET_ARM64_ROOT   where the root goes (default /var/cache/kvmnet-arm64-root)
set -euo pipefail

root="${KVMNET_ARM64_ROOT:-/var/cache/kvmnet-arm64-root}"
stamp="$root/.kvmnet-arm64-root"
refresh=0
[ "${1:-}" = --refresh ] && refresh=1

log() { printf 'arm64-node: %s\n' "$*" >&2; }

if [ "$refresh" = 0 ] && [ -f "$stamp" ] && [ -x "$root/usr/bin/node" ]; then
  log "reusing $root ($(head -n 1 "$stamp"))"
  echo "$root"
  exit 0
fi

foreign_before="$(dpkg --print-foreign-architectures)"
parent="$(dirname "$root")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.kvmnet-arm64-root.XXXXXX")"
trap 'rm -rf "$work"' EXIT
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$work/root"
: >"$apt_dir/status"
# Dir::State* and Dir::Cache* put everything apt writes (lists, the status it reads, the .debs, its lock
# files, the binary caches, which are switched off) under $apt_dir. Sandbox::User=root: apt would
# otherwise fetch as _apt, which cannot write into a directory made by mktemp.
apt_private=(
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64
  -o Dir::State="$apt_dir" -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
  -o Dir::Cache="$apt_dir/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
  -o APT::Sandbox::User=root -o Acquire::Languages=none -o Acquire::PDiffs=false
)
export DEBIAN_FRONTEND=noninteractive
log 'apt-get update (arm64 lists, private)'
apt-get "${apt_private[@]}" update -qq >&2
log 'apt-get install --download-only nodejs (arm64, private)'
apt-get "${apt_private[@]}" install --download-only --no-install-recommends -y -qq nodejs >&2
debs=("$apt_dir"/cache/archives/*.deb)
for deb in "${debs[@]}"; do dpkg -x "$deb" "$work/root"; done
{
  echo "nodejs:arm64 $(dpkg-deb -f "$(ls "$apt_dir"/cache/archives/nodejs_*_arm64.deb)" Version)"
  for deb in "${debs[@]}"; do basename "$deb"; done
} >"$work/root/.kvmnet-arm64-root"

if command -v qemu-aarch64 >/dev/null; then
  got="$(qemu-aarch64 -L "$work/root" "$work/root/usr/bin/node" -p 'process.arch + " " + process.version')"
  log "qemu-aarch64 node: $got"
  [[ "$got" == arm64\ v* ]] || { log "unexpected answer from the arm64 node: $got"; exit 1; }
else
  log 'qemu-aarch64 not found (Debian: qemu-user); root prepared but not tried'
fi

# The promise above, checked: dpkg's architectures are what they were.
foreign_after="$(dpkg --print-foreign-architectures)"
if [ "$foreign_after" != "$foreign_before" ]; then
  log "dpkg's foreign architectures changed from '${foreign_before}' to '${foreign_after}'"
  exit 1
fi

rm -rf "$root"
mv "$work/root" "$root"
echo "$root"
