#!/usr/bin/env bash
# Builds Vigil and runs every test: unit tests (no privileges) and the bpf
# tests, which load the real probes into this kernel and need root. Outside
# CI the root-only tests skip with a reason when not root; with CI=true a
# missing capability fails them. The kernel matrix (ctest -L vm,
# scripts/vm-matrix.sh) boots Debian kernels under qemu and skips or fails the
# same way when qemu, a kernel download or root is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
# Kernel tests are RUN_SERIAL: they share the kernel and count its events.
exec ctest --test-dir "${VIGIL_BUILD_DIR:-build}" --output-on-failure --no-tests=error -j "$(nproc)"
