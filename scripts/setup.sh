#!/usr/bin/env bash
# Installs everything kvmnet's build, tests, demo and benchmarks need on a fresh Debian machine (as root):
# the Debian packages in scripts/ci-packages.txt, the npm dependencies, the native addon and the library.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2046
apt-get install -y -qq --no-install-recommends $(grep -v '^#' scripts/ci-packages.txt | tr '\n' ' ') >/dev/null
npm ci --no-audit --no-fund
npm run build:native
npm run build
