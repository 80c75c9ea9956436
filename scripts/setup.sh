#!/usr/bin/env bash
# Installs everything kvmnet's build, tests, demo and benchmarks need on a fresh Debian machine (as root):
# the Debian packages in scripts/ci-packages.txt, an arm64 node root for the arm64 prebuild's test, the npm
# dependencies, the native addon (linux-x64 and, cross-compiled, linux-arm64) and the library.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2046
apt-get install -y -qq --no-install-recommends $(grep -v '^#' scripts/ci-packages.txt | tr '\n' ' ') >/dev/null
# Debian's arm64 node in a private root, for loading the linux-arm64 prebuild under qemu-user (reused when
# already there).
bash scripts/arm64-node.sh >/dev/null
npm ci --no-audit --no-fund
npm run build:native
npm run build
