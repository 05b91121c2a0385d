#!/usr/bin/env bash
# Builds Vigil and runs the sensor on this node, as root: one JSON event per
# line on stdout (exec, fork, exit, and a health report every minute).
# Extra arguments go to vigil-sensor, e.g. --output=/tmp/events.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec "${VIGIL_BUILD_DIR:-build}/userspace/sensor/vigil-sensor" "$@"
