#!/usr/bin/env bash
# Installs what is missing and builds everything into build/ (or $VIGIL_BUILD_DIR).
# VIGIL_UNIT_TESTS=OFF leaves the unit tests out (scripts/test.sh builds them
# in the sanitizer build instead).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${VIGIL_BUILD_DIR:-build}
unit=${VIGIL_UNIT_TESTS:-ON}
if [ ! -f "$build/build.ninja" ] || ! grep -qx "VIGIL_UNIT_TESTS:BOOL=$unit" "$build/CMakeCache.txt"; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_UNIT_TESTS="$unit" >/dev/null
fi
ninja -C "$build" >/dev/null || ninja -C "$build"  # quiet when it works, the full error when it fails
