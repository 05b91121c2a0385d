#!/usr/bin/env bash
# Installs what is missing and builds everything into build/ (or $VIGIL_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${VIGIL_BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" >/dev/null || ninja -C "$build"  # quiet when it works, the full error when it fails
