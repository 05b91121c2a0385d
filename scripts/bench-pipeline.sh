#!/usr/bin/env bash
# The userspace pipeline per core (decode -> lineage -> container -> DNS names
# -> detection -> JSON), on records the probes wrote on this host: records
# SECONDS_ of a workload with bench_record (execs at RATE/s, the mixed load
# of execs, file writes and loopback TCP, and shell pipelines with real
# command lines), then runs vigil_pipeline_bench's whole-path benchmarks on
# those records and on the built corpus, ROUNDS times, one core.
#
#   ninja -C build bench_record bench_workload vigil_pipeline_bench
#   sudo scripts/bench-pipeline.sh
#   sudo RECORDS=/tmp/records.bin ROUNDS=5 scripts/bench-pipeline.sh   # kept, and reused when there
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
rate=${RATE:-200}
secs=${SECONDS_:-20}
build=${VIGIL_BUILD_DIR:-build}
records=${RECORDS:-}
recorder=$build/tests/bench/bench_record
workload=$build/tests/bench/bench_workload
bench=${BENCH:-$build/tests/bench/vigil_pipeline_bench}
[ "$(id -u)" -eq 0 ] || { echo "bench-pipeline: needs root" >&2; exit 1; }
for b in "$recorder" "$workload" "$bench"; do [ -x "$b" ] || { echo "bench-pipeline: build $b first" >&2; exit 1; }; done

dir=$(mktemp -d /tmp/vigil-pipeline-XXXXXX)
recorder_pid=
cleanup() {
  if [ -n "$recorder_pid" ]; then kill "$recorder_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 1" INT TERM

[ -n "$records" ] || records=$dir/records.bin
if [ ! -s "$records" ]; then
  "$recorder" "$records" "$secs" >"$dir/recorder.log" 2>&1 &
  recorder_pid=$!
  for _ in $(seq 100); do
    grep -q "^recording" "$dir/recorder.log" && break
    kill -0 "$recorder_pid" 2>/dev/null || { cat "$dir/recorder.log" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "^recording" "$dir/recorder.log" || { echo "bench-pipeline: the probes did not load" >&2; exit 1; }
  "$workload" exec-rate "$rate" $((secs / 4)) >/dev/null
  mkdir -p "$dir/mixed"
  "$workload" mixed "$dir/mixed" 100 >/dev/null
  for i in $(seq 50); do
    sh -c "ls -la /etc | grep -c conf; cat /etc/os-release | head -n 2; id -un; uname -srm; date +%s > $dir/out.$i" >/dev/null
  done
  wait "$recorder_pid" || { cat "$dir/recorder.log" >&2; exit 1; }
  recorder_pid=
  tail -1 "$dir/recorder.log"
fi

echo "round benchmark items_per_second"
for round in $(seq "$rounds"); do
  VIGIL_BENCH_RECORDS=$records taskset -c 0 "$bench" \
    --benchmark_filter='^BM_DecodeLineageContainer(Detect)?Encode$|^BM_RecordedDecodeLineageContainer(Detect)?Encode$' \
    --benchmark_min_time=0.5 2>/dev/null |
    awk -v r="$round" '/^BM_/ { for (i = 1; i <= NF; i++) if ($i ~ /^items_per_second=/) { sub("items_per_second=", "", $i); print r, $1, $i } }'
done
