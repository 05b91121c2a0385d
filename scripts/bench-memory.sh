#!/usr/bin/env bash
# Sensor memory with many tracked processes: starts a vigil-sensor, then
# parks COUNTS processes (sleeping children of `bench_workload park`, each a
# fork the sensor sees and keeps in its process cache), and prints the sensor's RSS (and its anonymous part: heap
# and stacks, without the ring buffer's pages and shared libraries) and the
# size of its process cache after each step. RssFile is mostly shared
# libraries' pages (shared with other processes that map them), RssShmem
# the ring buffer's pages.
#
#   sudo scripts/bench-memory.sh                       # 10000 then 50000 processes
#   sudo COUNTS="10000" scripts/bench-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
counts=${COUNTS:-"10000 50000"}
build=${VIGIL_BUILD_DIR:-build}
sensor_bin=${SENSOR:-$build/userspace/sensor/vigil-sensor}
vigilctl=$build/userspace/cli/vigilctl
workload=$build/tests/bench/bench_workload
[ "$(id -u)" -eq 0 ] || { echo "bench-memory: needs root" >&2; exit 1; }
for b in "$sensor_bin" "$vigilctl" "$workload"; do [ -x "$b" ] || { echo "bench-memory: build $b first" >&2; exit 1; }; done

dir=$(mktemp -d /tmp/vigil-memory-XXXXXX)
sensor_pid=
parkers=()
cleanup() {
  # A parker's children die with it.
  [ ${#parkers[@]} -gt 0 ] && kill "${parkers[@]}" 2>/dev/null || true
  [ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null && wait "$sensor_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 1" INT TERM

# Room for the processes: pid_max and the task limit must exceed the largest count.
max=$(tr ' ' '\n' <<<"$counts" | sort -n | tail -1)
[ "$(cat /proc/sys/kernel/pid_max)" -gt $((max + 20000)) ] || echo $((max + 40000)) >/proc/sys/kernel/pid_max
[ "$(cat /proc/sys/kernel/threads-max)" -gt $((max + 20000)) ] || echo $((max + 40000)) >/proc/sys/kernel/threads-max
ulimit -u unlimited 2>/dev/null || true

sock=$dir/api.sock
# The cache must hold them all (its default, 32768, is below the largest count).
"$sensor_bin" --output=/dev/null --api_socket="$sock" --metrics_address= --log_level=warn \
  --process_cache_size=$((max + 20000)) 2>"$dir/sensor.err" &
sensor_pid=$!
for _ in $(seq 300); do "$vigilctl" --socket="$sock" status >/dev/null 2>&1 && break; sleep 0.1; done

sample() {
  sleep 3  # the pipeline catches up
  local cache
  cache=$("$vigilctl" --socket="$sock" status -o json | grep -o '"processCacheSize":"[0-9]*"' | grep -o '[0-9]*' || echo 0)
  printf '%-16s rss_MiB=%-6s anon_MiB=%-6s file_MiB=%-6s shmem_MiB=%-6s process_cache=%s\n' "$1" \
    $(awk '/^(VmRSS|RssAnon|RssFile|RssShmem)/ {printf "%.1f ", $2 / 1024}' /proc/$sensor_pid/status) "$cache"
}

sample "baseline"
have=0
for n in $counts; do
  "$workload" park $((n - have)) >"$dir/park.$n" &
  parkers+=($!)
  for _ in $(seq 3000); do grep -q parked "$dir/park.$n" 2>/dev/null && break; sleep 0.1; done
  grep -q parked "$dir/park.$n" || { echo "bench-memory: could not park $n processes" >&2; exit 1; }
  have=$n
  sample "$n parked"
done
