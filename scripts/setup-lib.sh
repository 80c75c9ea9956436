# Shared by scripts/setup-runtime.sh and scripts/setup.sh (sourced, not run). Every step checks first and
# does nothing when its result is already there, so a second run of a set-up changes nothing:
#   - Debian packages: only the missing ones are installed (no apt-get update when none is missing);
#   - npm ci: skipped when node_modules was installed from this very package-lock.json;
#   - the native addon and the library: rebuilt only when a source is newer than what was built.
# Nothing here starts or enables a service on the machine, and dpkg's architectures are left alone.
# shellcheck shell=bash

setup_log() { printf 'setup: %s\n' "$*" >&2; }

# Node.js 20 or newer must already be there (Debian 12's own nodejs is 18; NodeSource's nodejs 20.x or
# nodejs.org's tarball): the set-up does not add an apt source to the machine.
setup_require_node() {
  local major
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    setup_log 'kvmnet needs Node.js >= 20 with npm on PATH (Debian 12: NodeSource nodejs 20.x, or a nodejs.org tarball)'
    exit 1
  fi
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    setup_log "kvmnet needs Node.js >= 20; $(command -v node) is $(node --version)"
    exit 1
  fi
}

# The package names in the given list files (one a line, `#` comments), each once.
setup_packages_of() { sed -e 's/#.*//' "$@" | tr -s ' \t' '\n' | grep -v '^$' | sort -u; }

# The names among the arguments that dpkg does not have installed.
setup_missing_packages() {
  local installed
  installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null | awk '$2 == "installed" { print $1 }' || true)"
  local p
  for p in "$@"; do grep -qxF "$p" <<<"$installed" || echo "$p"; done
}

# The enable links under /etc/systemd/system (what `systemctl enable` and deb-systemd-helper make).
setup_enable_links() { find /etc/systemd/system -type l 2>/dev/null | sort; }

# Installs the missing packages of the given list files without starting or enabling anything:
#   - no service starts during the install: a policy-rc.d that denies every action (honoured by invoke-rc.d
#     and deb-systemd-invoke, which maintainer scripts use) is in place for the install's duration; a
#     machine's own policy-rc.d that denies is used as it is, one that allows is set aside and put back;
#   - a unit this install enabled (firewalld, for one, enables itself on install) is disabled again with
#     deb-systemd-helper, which records the choice so that upgrades keep it; units enabled before are not
#     touched.
setup_install_packages() {
  local -a wanted missing
  mapfile -t wanted < <(setup_packages_of "$@")
  mapfile -t missing < <(setup_missing_packages "${wanted[@]}")
  if [ "${#missing[@]}" -eq 0 ]; then
    setup_log "Debian packages: all ${#wanted[@]} of $* installed"
    return 0
  fi
  setup_log "Debian packages to install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local policy=/usr/sbin/policy-rc.d aside='' ours=0
  if [ -e "$policy" ]; then
    local rc=0
    "$policy" kvmnet-setup-probe start >/dev/null 2>&1 || rc=$?
    if [ "$rc" != 101 ]; then
      aside="$policy.kvmnet-setup-aside"
      mv "$policy" "$aside"
    fi
  fi
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/setup-lib.sh: no service starts while kvmnet'"'"'s set-up installs packages.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=1
    # shellcheck disable=SC2064 # the names are fixed now, on purpose
    trap "rm -f '$policy'; if [ -n '$aside' ]; then mv '$aside' '$policy'; fi" EXIT
  fi
  local before
  before="$(setup_enable_links)"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  local link unit
  while read -r link; do
    [ -n "$link" ] || continue
    unit="$(basename "$link")"
    setup_log "disabling $unit (enabled by its package's install; kvmnet's set-up starts and enables nothing)"
    if command -v deb-systemd-helper >/dev/null; then
      deb-systemd-helper disable "$unit" >/dev/null 2>&1 || rm -f "$link"
    else
      rm -f "$link"
    fi
  done < <(comm -13 <(printf '%s\n' "$before") <(setup_enable_links))
  if [ "$ours" = 1 ]; then
    rm -f "$policy"
    if [ -n "$aside" ]; then mv "$aside" "$policy"; fi
    trap - EXIT
  fi
}

# npm ci, unless node_modules came from this package-lock.json with this Node (stamp in node_modules).
setup_npm_ci() {
  local stamp=node_modules/.kvmnet-setup want
  want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node --version)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    setup_log 'npm ci: node_modules is up to date with package-lock.json'
    return 0
  fi
  npm ci --no-audit --no-fund
  printf '%s\n' "$want" >"$stamp"
}

# True when $1 is missing or any of the other paths (files or directories, searched) is newer than it.
setup_stale() {
  local target="$1"
  shift
  [ -e "$target" ] || return 0
  [ -n "$(find "$@" -newer "$target" -print -quit 2>/dev/null)" ]
}

# The native addon (prebuilds/linux-ARCH/): the running Node's architecture, and the cross-built ones
# native/build.mjs makes when their cross compiler is on PATH (the test set-up installs aarch64's).
setup_build_native() {
  local arch sources=(native/src native/binding.gyp native/build.mjs) target
  local -a targets=()
  arch="$(node -p process.arch)"
  targets+=("prebuilds/linux-$arch/kvmnet.glibc.node")
  if [ "$arch" = x64 ] && command -v aarch64-linux-gnu-g++ >/dev/null; then targets+=(prebuilds/linux-arm64/kvmnet.glibc.node); fi
  for target in "${targets[@]}"; do
    if setup_stale "$target" "${sources[@]}"; then
      npm run build:native
      return 0
    fi
  done
  setup_log "native addon: ${targets[*]} up to date"
}

# The library (dist/), rebuilt when a source or the build's configuration is newer than dist/cli.js.
setup_build_library() {
  if setup_stale dist/cli.js src package.json package-lock.json tsup.config.ts tsconfig.json scripts/write-entries.mjs; then
    npm run build
  else
    setup_log 'library: dist/ up to date'
  fi
}
