#!/usr/bin/env bash
# Sensor CPU per event, A/B: runs each given vigil-sensor binary in turn
# (alternating, ROUNDS times) under the same exec workload and prints, per
# run, the sensor's CPU time over the workload window (the sum of its
# threads' /proc schedstat run times, in ns) divided by the events it took
# from the ring buffer in that window (its own counters, from `vigilctl
# status`). CPU time, not wall time: the machine may be shared. (This
# machine has no PMU: no instruction counts.)
#
#   sudo scripts/bench-sensor-cpu.sh BIN_A [BIN_B ...]
#   sudo ROUNDS=3 RATE=400 SECONDS_=10 OUTPUT=/dev/null SENSOR_ARGS=--detection=false \
#        scripts/bench-sensor-cpu.sh build/userspace/sensor/vigil-sensor /tmp/base-sensor
#
# OUTPUT: /dev/null (default), "file" (JSON lines to a temporary file) or
# "collector" (the DaemonSet's and scripts/run.sh's configuration: no JSON
# lines, events streamed over loopback to a vigil-collector with the file
# forwarder, through the sensor's spool; only the sensor's CPU is counted).
# EXEC: the program started RATE times a second: /bin/true (default), or
# "static" for build/tests/bench/bench_true (`ninja bench_true`), a static
# program that only exits. /bin/true, dynamically linked, starts at ~500/s
# at most on a 2-core host; bench_true reaches 1,600/s there, with the same
# events per exec (fork, exec, exit). The execs/s column is the rate reached.
# THREADS=1: also print, per run, each of the sensor's threads that ran
# over the window: its CPU (ms), context switches and minor page faults.
# WARMUP: seconds of the same workload before the measured window (default
# 0). A sensor keeps an exited process 30 s (--exit_grace) and its heap
# grows until then; with WARMUP=40 the window sees the steady state a busy
# node runs in, where expired entries' memory is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-2}
rate=${RATE:-400}
secs=${SECONDS_:-10}
warmup=${WARMUP:-0}
output=${OUTPUT:-/dev/null}
exec_path=${EXEC:-/bin/true}
build=${VIGIL_BUILD_DIR:-build}
workload=$build/tests/bench/bench_workload
vigilctl=$build/userspace/cli/vigilctl
collector=$build/userspace/collector/vigil-collector
[ "$(id -u)" -eq 0 ] || { echo "bench-sensor-cpu: needs root" >&2; exit 1; }
[ $# -ge 1 ] || { echo "usage: $0 SENSOR_BIN [SENSOR_BIN ...]" >&2; exit 2; }
[ "$exec_path" = static ] && exec_path=$(realpath "$build/tests/bench/bench_true")
for b in "$workload" "$vigilctl" "$exec_path" "$@"; do [ -x "$b" ] || { echo "bench-sensor-cpu: build $b first" >&2; exit 1; }; done

dir=$(mktemp -d /tmp/vigil-sensor-cpu-XXXXXX)
sensor_pid=
collector_pid=
cleanup() {
  [ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null && wait "$sensor_pid" 2>/dev/null || true
  [ -n "$collector_pid" ] && kill "$collector_pid" 2>/dev/null && wait "$collector_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 1" INT TERM

# Events the sensor has taken from the ring buffer so far, every kind: the
# per-kind counters only (the pipeline's own report repeats their sum).
received() {
  "$vigilctl" --socket="$1" status -o json |
    python3 -c 'import json, sys; print(sum(int(k.get("received", 0)) for k in json.load(sys.stdin)["counters"]["kinds"]))'
}

# CPU time of every thread of a process so far, in ns (%.0f: mawk's %d
# stops at 2^31, 2.1 s).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }

# Per thread: tid, name, run time (ns), context switches, minor faults.
threads() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" "$(cut -d' ' -f1 "$t/schedstat")" \
      "$(awk '/ctxt_switches/ {s += $2} END {print s}' "$t/status")" "$(awk '{print $10}' "$t/stat")"
  done
}

printf '%-5s %-40s %8s %10s %12s %10s %8s\n' round sensor execs/s events cpu_us/event ctx_sw rss_kB
for round in $(seq "$rounds"); do
  for bin in "$@"; do
    out=/dev/null
    [ "$output" = file ] && out=$dir/events.json && rm -f "$out"
    uplink=()
    if [ "$output" = collector ]; then
      rm -rf "$dir/collector" "$dir/spool" && mkdir -p "$dir/collector"
      "$collector" --listen=127.0.0.1:0 --plaintext --forwarders=file --spool_dir="$dir/collector" \
        --file_path="$dir/collector/events.jsonl" --port_file="$dir/collector/port" --metrics_address= \
        --log_level=warn 2>"$dir/collector.err" &
      collector_pid=$!
      for _ in $(seq 100); do [ -s "$dir/collector/port" ] && break; sleep 0.1; done
      uplink=(--collector="127.0.0.1:$(cat "$dir/collector/port")" --collector_plaintext --spool_dir="$dir/spool")
    fi
    sock=$dir/api.sock
    # shellcheck disable=SC2086
    "$bin" --output="$out" --api_socket="$sock" --metrics_address= --log_level=warn "${uplink[@]}" ${SENSOR_ARGS:-} \
      2>"$dir/sensor.err" &
    sensor_pid=$!
    for _ in $(seq 300); do [ -S "$sock" ] && "$vigilctl" --socket="$sock" status >/dev/null 2>&1 && break; sleep 0.1; done
    sleep 1
    [ "$warmup" -gt 0 ] && "$workload" exec-rate "$rate" "$warmup" "$exec_path" >/dev/null
    before=$(received "$sock")
    ctx_before=$(cat /proc/$sensor_pid/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}')
    cpu_before=$(cpu_ns "$sensor_pid")
    threads_before=$(threads "$sensor_pid")
    wall=$("$workload" exec-rate "$rate" "$secs" "$exec_path")
    sleep 1
    cpu_after=$(cpu_ns "$sensor_pid")
    threads_after=$(threads "$sensor_pid")
    after=$(received "$sock")
    ctx_after=$(cat /proc/$sensor_pid/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}')
    rss=$(awk '/^VmRSS/ {print $2}' /proc/$sensor_pid/status)
    kill "$sensor_pid"
    wait "$sensor_pid" 2>/dev/null || true
    sensor_pid=
    if [ -n "$collector_pid" ]; then
      kill "$collector_pid"
      wait "$collector_pid" 2>/dev/null || true
      collector_pid=
    fi
    events=$((after - before))
    printf '%-5s %-40s %8.0f %10d %12.1f %10d %8d\n' "$round" "$bin" \
      "$(awk -v n=$((rate * secs)) -v s="$wall" 'BEGIN {print n / s}')" "$events" \
      "$(awk -v ns=$((cpu_after - cpu_before)) -v ev="$events" 'BEGIN {print ns / 1000 / (ev ? ev : 1)}')" \
      $((ctx_after - ctx_before)) "$rss"
    if [ "${THREADS:-0}" = 1 ]; then
      # Joined on the thread id: a thread that started in the window counts from zero.
      awk 'NR == FNR {ns[$1] = $3; cs[$1] = $4; flt[$1] = $5; next}
           {d = ($3 - ns[$1]) / 1e6; if (d >= 0.5) printf "        %-18s %8.1f ms %6d switches %6d faults\n", $2, d, $4 - cs[$1], $5 - flt[$1]}' \
        <(echo "$threads_before") <(echo "$threads_after")
    fi
  done
done
