#!/usr/bin/env bash
# Prepares a private arm64 root holding Debian's arm64 `nodejs` and its runtime dependency closure, for
# loading the linux-arm64 prebuild under qemu-user (test/integration/prebuild-arm64.test.ts):
#
#   root="$(scripts/arm64-node.sh)"
#   qemu-aarch64 -L "$root" "$root/usr/bin/node" -e 'console.log(process.arch)'
#
# Nothing is installed: the .debs are fetched with `apt-get download` and unpacked with `dpkg -x`, so the
# host's own (amd64) node stays as it is. The only change to the system is `dpkg --add-architecture arm64`
# (and the apt lists that come with it). Debian 12's arm64 node is 18, enough to load an N-API addon.
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

export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log 'dpkg --add-architecture arm64'
  dpkg --add-architecture arm64
fi
# The arm64 package lists come with the next update; skip it when they are already there (setup.sh has
# just updated, and a second update costs time for nothing).
if ! apt-cache show nodejs:arm64 >/dev/null 2>&1; then
  log 'apt-get update (arm64 lists)'
  apt-get update -qq >&2
fi

# The runtime closure of nodejs:arm64 as it would be installed on an arm64-only system: Depends and
# PreDepends (no Recommends), first alternative of each OR group, a virtual package by its first provider.
# A dependency of an Architecture: all package (node-acorn -> nodejs) means the arm64 one, so the walk never
# leaves arm64 + all.
arch_of() { # prints "name arch" for each (unqualified) package name given
  apt-cache show --no-all-versions "$@" 2>/dev/null | awk '/^Package: /{p=$2} /^Architecture: /{print p, $2}'
}
declare -A seen=()
todo=(nodejs:arm64)
seen[nodejs:arm64]=1
while [ "${#todo[@]}" -gt 0 ]; do
  # One dependency per group: a `|Depends:` line opens (or continues) an OR group whose first member is
  # taken; the group's later members are skipped. `<virtual>` is replaced by the first provider below it.
  mapfile -t deps < <(
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${todo[@]}" |
      awk '
        function flush() { if (want != "") print want; want = "" }
        /^[^ ]/ { flush(); inor = 0; virt = 0; next }
        /^ [ |](Pre)?Depends: / {
          alt = ($0 ~ /^ \|/)
          name = $2
          if (!inor) { flush(); want = name; virt = (name ~ /^</) } else { virt = 0 }
          inor = alt
          next
        }
        /^    [^ ]/ { if (virt) { want = $1; virt = 0 } next }
        END { flush() }'
  )
  todo=()
  unqualified=()
  for d in "${deps[@]}"; do
    d="${d#<}"; d="${d%>}"; d="${d%:any}"
    if [[ "$d" == *:* ]]; then
      [[ "$d" == *:arm64 ]] || { log "unexpected dependency $d"; exit 1; }
      [ -n "${seen[$d]:-}" ] || { seen[$d]=1; todo+=("$d"); }
    else
      unqualified+=("$d")
    fi
  done
  if [ "${#unqualified[@]}" -gt 0 ]; then
    while read -r name arch; do
      [ "$arch" = all ] || name="$name:arm64"
      [ -n "${seen[$name]:-}" ] || { seen[$name]=1; todo+=("$name"); }
    done < <(arch_of $(printf '%s\n' "${unqualified[@]}" | sort -u))
  fi
done
mapfile -t packages < <(printf '%s\n' "${!seen[@]}" | sort)
log "packages: ${packages[*]}"

parent="$(dirname "$root")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.kvmnet-arm64-root.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/debs" "$work/root"
# apt drops privileges to _apt for downloads when it can; let it write there.
chmod 755 "$work" && chown _apt "$work/debs" 2>/dev/null || true
download() { (cd "$work/debs" && apt-get download -qq "${packages[@]}" >&2 2>"$work/download.err"); }
if ! download; then
  # Lists older than the archive (a point release since): update once and retry.
  log 'apt-get download failed; apt-get update and retry'
  apt-get update -qq >&2
  download || { cat "$work/download.err" >&2; exit 1; }
fi
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
{
  echo "nodejs:arm64 $(dpkg-deb -f "$(ls "$work"/debs/nodejs_*_arm64.deb)" Version)"
  for deb in "$work"/debs/*.deb; do basename "$deb"; done
} >"$work/root/.kvmnet-arm64-root"

if command -v qemu-aarch64 >/dev/null; then
  got="$(qemu-aarch64 -L "$work/root" "$work/root/usr/bin/node" -p 'process.arch + " " + process.version')"
  log "qemu-aarch64 node: $got"
  [[ "$got" == arm64\ v* ]] || { log "unexpected answer from the arm64 node: $got"; exit 1; }
else
  log 'qemu-aarch64 not found (Debian: qemu-user); root prepared but not tried'
fi

rm -rf "$root"
mv "$work/root" "$root"
echo "$root"
