#!/usr/bin/env bash
# What `vigilctl tail` subscribers cost the sensor's pipeline: runs a sensor,
# starts N processes under each scenario (no tail; one stalled tail; four
# tails reading JSON) and reports the pipeline's event latency
# (vigil_event_latency_seconds: kernel -> leaving the pipeline) and drops.
# Numbers are reported, not asserted. Needs root and a build (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VIGIL_BUILD_DIR:-build}
n=${1:-2000}
ctl="$build/userspace/cli/vigilctl"
dir=$(mktemp -d /tmp/vigil-bench-tail-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

metric() {  # name{labels} -> value, summed over matching lines
  curl -s "http://$addr/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { printf "%d\n", s }'
}
latency_sum() { curl -s "http://$addr/metrics" | awk '/^vigil_event_latency_seconds_sum/ { print $2 }'; }

run() {  # scenario name
  local c0 s0 c1 s1 t0 t1 d0
  d0=$(metric vigil_tail_events_dropped_total)
  c0=$(metric vigil_event_latency_seconds_count)
  s0=$(latency_sum)
  t0=$(date +%s.%N)
  for _ in $(seq "$n"); do /bin/true; done
  t1=$(date +%s.%N)
  sleep 1
  c1=$(metric vigil_event_latency_seconds_count)
  s1=$(latency_sum)
  printf '%-28s %6d events in %5.2fs  mean latency %7.1f us  pipeline drops %d (total)  tail drops %d\n' "$1" \
    $((c1 - c0)) "$(echo "$t1 - $t0" | bc)" "$(echo "($s1 - $s0) / ($c1 - $c0) * 1000000" | bc -l)" \
    "$(metric 'vigil_events_dropped_total')" $(($(metric vigil_tail_events_dropped_total) - d0))
}

"$build/userspace/sensor/vigil-sensor" --output=/dev/null --api_socket="$dir/s.sock" --metrics_address=127.0.0.1:0 \
  --api_queue_capacity=256 --log_level=warn 2>"$dir/sensor.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/s.sock" ] && break; sleep 0.1; done
addr=$("$ctl" --socket "$dir/s.sock" status -o json | jq -r .metricsAddress)

run "no tail"
# A tail whose reader never reads: its pipe fills, vigilctl blocks, the
# sensor's queue for it fills.
mkfifo "$dir/stall"
"$ctl" --socket "$dir/s.sock" tail -o json >"$dir/stall" 2>/dev/null &
pids+=($!)
sleep 600 <"$dir/stall" &
pids+=($!)
sleep 1
run "1 stalled tail"
for _ in 1 2 3 4; do
  "$ctl" --socket "$dir/s.sock" tail -o json >/dev/null 2>&1 &
  pids+=($!)
done
sleep 1
run "+4 tails reading JSON"
