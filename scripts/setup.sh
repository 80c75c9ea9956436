#!/usr/bin/env bash
# Installs everything kvmnet's build, tests, demo and benchmarks need on a fresh Debian machine (as root):
# the Debian packages in scripts/ci-packages.txt, an arm64 node root for the arm64 prebuild's test, the npm
# dependencies, the native addon (linux-x64 and, cross-compiled, linux-arm64) and the library.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# firewalld is installed for the coexistence tests, which run their own inside a namespace: it must not
# start on this machine (its package starts and enables the service where systemd runs). Services stay
# down during the install (policy-rc.d, honoured by invoke-rc.d and deb-systemd-invoke), and a firewalld
# this script installed is not enabled at boot either. A firewalld that was already installed is left alone.
had_firewalld=$(dpkg-query -W -f='${Status}' firewalld 2>/dev/null | grep -c 'install ok installed' || true)
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2046
apt-get install -y -qq --no-install-recommends $(grep -v '^#' scripts/ci-packages.txt | tr '\n' ' ') >/dev/null
if [ "$had_firewalld" = 0 ] && command -v deb-systemd-helper >/dev/null; then
  deb-systemd-helper disable firewalld.service >/dev/null 2>&1 || true
fi
# Debian's arm64 node in a private root, for loading the linux-arm64 prebuild under qemu-user (reused when
# already there).
bash scripts/arm64-node.sh >/dev/null
npm ci --no-audit --no-fund
npm run build:native
npm run build
