#!/usr/bin/env bash
# Builds Vigil and runs every test: unit tests (no privileges) and the bpf
# tests, which load the real probes into this kernel and need root. Outside
# CI the root-only tests skip with a reason when not root; with CI=true a
# missing capability fails them. The kernel matrix (ctest -L vm,
# scripts/vm-matrix.sh) boots Debian kernels under qemu and skips or fails the
# same way when qemu, a kernel download or root is missing.
#
# Before the main suite: every unit test under ASan + UBSan and the threaded
# ones without gRPC under TSan (scripts/sanitize.sh), and a bounded run of
# every fuzzer (scripts/fuzz.sh, $VIGIL_FUZZ_SECONDS each). VIGIL_SANITIZERS=0
# leaves them out (a quicker local run; CI always runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
hardening=0
if [ "${CI:-}" = true ] || [ "${VIGIL_SANITIZERS:-1}" != 0 ]; then
  scripts/sanitize.sh || hardening=1
  scripts/fuzz.sh --seconds "${VIGIL_FUZZ_SECONDS:-10}" || hardening=1
  [ $hardening = 0 ] || echo "test: sanitizer or fuzzer findings above" >&2
else
  echo "test: VIGIL_SANITIZERS=0, sanitizer and fuzz runs left out"
fi
# Kernel tests are RUN_SERIAL: they share the kernel and count its events.
ctest --test-dir "${VIGIL_BUILD_DIR:-build}" --output-on-failure --no-tests=error -j "$(nproc)" || exit
exit $hardening
