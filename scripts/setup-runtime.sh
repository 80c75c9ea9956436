#!/usr/bin/env bash
# The run-time set-up: what `kvmnet demo` and the library need on a Debian 12 machine (as root), and no
# more: the Debian packages of scripts/runtime-packages.txt, `npm ci`, the native addon for this machine's
# architecture and the library (dist/). Node.js >= 20 must be on PATH already. The README's demo command:
#
#   bash scripts/setup-runtime.sh && node dist/cli.js demo
#
# Starts and enables no service, adds no dpkg architecture, and a second run changes nothing
# (scripts/setup-lib.sh). The test suite's set-up is scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup-lib.sh
. scripts/setup-lib.sh
setup_require_node
foreign_before="$(dpkg --print-foreign-architectures)"
setup_install_packages scripts/runtime-packages.txt
setup_npm_ci
setup_build_native
setup_build_library
[ "$(dpkg --print-foreign-architectures)" = "$foreign_before" ] || { setup_log "dpkg's foreign architectures changed"; exit 1; }
