#!/usr/bin/env bash
# Load test of vigil-collector: many simulated sensors (one gRPC connection
# each) against one collector with the file forwarder, on loopback, in a
# temporary directory. Prints acknowledged events/s, events/s per collector
# core and the collector's memory. Not a test: nothing is asserted.
#   scripts/bench-collector.sh [--streams=64] [--seconds=30] [--batch_events=512]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${VIGIL_BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" -j2 vigil-collector vigil_collector_load >/dev/null
dir=$(mktemp -d /tmp/vigil-bench-XXXXXX)
trap 'kill "$collector" 2>/dev/null; wait "$collector" 2>/dev/null; rm -rf "$dir"' EXIT
"$build/userspace/collector/vigil-collector" --listen=127.0.0.1:0 --plaintext --port_file="$dir/port" \
  --spool_dir="$dir/spool" --file_path="$dir/events.jsonl" --file_max_bytes=$((256 << 20)) --file_max_files=2 \
  --log_level=warn &
collector=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
"$build/tests/bench/vigil_collector_load" --target="127.0.0.1:$(cat "$dir/port")" --collector_pid="$collector" \
  --cursor_file="$dir/spool/cursors/file" "$@"
echo "file forwarder output: $(du -shc "$dir"/events.jsonl* | tail -1 | cut -f1) (older files rotated away); spool $(du -sh "$dir/spool" | cut -f1)"
