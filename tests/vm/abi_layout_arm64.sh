#!/usr/bin/env bash
# The ABI layout test (tests/unit/abi_layout_test.cc) as an arm64 node runs
# it: cross-built with the arm64 BPF objects (scripts/cross-build.sh) and run
# under qemu-user, so the decoder's struct layout on arm64 is compared with
# the probes' BPF layout, member by member.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
"$root/scripts/cross-build.sh" abi_layout_test
ctest --test-dir "$build/arm64" -R 'AbiLayout' --output-on-failure --no-tests=error
