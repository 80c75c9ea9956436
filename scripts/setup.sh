#!/usr/bin/env bash
# The test set-up: everything kvmnet's build, tests and benchmarks need on a Debian 12 machine (as root):
# the run-time set-up's packages (scripts/runtime-packages.txt) and the test suite's
# (scripts/ci-packages.txt: QEMU and a kernel for the guest tests, firewalld and ufw for the coexistence
# tests, Go and libcni, Podman, the arm64 cross compiler and qemu-user, ...), an arm64 node root for the
# arm64 prebuild's test (scripts/arm64-node.sh: private, dpkg's architectures are not touched), `npm ci`,
# the native addon (linux-x64 and, cross-compiled, linux-arm64) and the library. Node.js >= 20 must be on
# PATH already. The README's test command and .ci/run:
#
#   bash scripts/setup.sh && npm test
#
# Starts and enables no service (firewalld, which enables itself on install, is disabled again; the
# coexistence tests run their own inside a namespace), adds no dpkg architecture, and a second run changes
# nothing (scripts/setup-lib.sh). The demo's smaller set-up is scripts/setup-runtime.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup-lib.sh
. scripts/setup-lib.sh
setup_require_node
foreign_before="$(dpkg --print-foreign-architectures)"
setup_install_packages scripts/runtime-packages.txt scripts/ci-packages.txt
# Debian's arm64 node in a private root, for loading the linux-arm64 prebuild under qemu-user (reused when
# already there).
bash scripts/arm64-node.sh >/dev/null
setup_npm_ci
setup_build_native
setup_build_library
[ "$(dpkg --print-foreign-architectures)" = "$foreign_before" ] || { setup_log "dpkg's foreign architectures changed"; exit 1; }
