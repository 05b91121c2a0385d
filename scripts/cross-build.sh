#!/usr/bin/env bash
# Builds targets for arm64 nodes on this amd64 machine: Debian multiarch
# (scripts/install-deps.sh --arm64, installed when missing) and the
# cmake/aarch64-linux-gnu.cmake toolchain, into <build>/arm64.
#
#   scripts/cross-build.sh [target...]     (default: vigil-sensor)
# env: VIGIL_BUILD_DIR (build), VIGIL_JOBS (2)
# Exit 77 when the packages are missing and cannot be installed (not root),
# except with CI=true, where that is a failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
[[ $build == /* ]] || build=$root/$build
out=$build/arm64
(($#)) || set -- vigil-sensor

if ! deps_log=$("$root/scripts/install-deps.sh" --arm64 2>&1); then
  echo "$deps_log" >&2
  msg="the arm64 cross build's packages are missing (scripts/install-deps.sh --arm64, as root)"
  if [[ ${CI:-} == true ]]; then echo "cross-build: FAIL (CI=true): $msg" >&2; exit 1; fi
  echo "cross-build: SKIP: $msg" >&2
  exit 77
fi
# The native build's optimisation, without debug info: the VM matrix and the
# image strip it anyway, and it is a third of the compile time.
if [[ ! -f $out/build.ninja ]]; then
  cmake -S "$root" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
    --toolchain "$root/cmake/aarch64-linux-gnu.cmake" >/dev/null
fi
# Quiet when it works, the full error when it fails.
ninja -C "$out" -j"${VIGIL_JOBS:-2}" "$@" >/dev/null || ninja -C "$out" -j"${VIGIL_JOBS:-2}" "$@"
