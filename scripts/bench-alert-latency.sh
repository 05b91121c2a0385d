#!/usr/bin/env bash
# Alert latency: from the syscall (an exec a rule matches) to the alert on the
# sensor's JSON output, p50/p90/p99/max (goal p99 <= 50 ms), with the default
# ruleset loaded; and from the same syscall to its exec event in the output of
# a collector on loopback (file forwarder) the sensor streams to: once on a
# quiet node and once while other processes churn.
# Numbers are reported, not asserted. Needs root and a build (scripts/build.sh).
#   scripts/bench-alert-latency.sh [COUNT] [INTERVAL_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VIGIL_BUILD_DIR:-build}
count=${1:-500}
interval=${2:-20}
ninja -C "$build" -j2 vigil-sensor vigil-collector bench_alert_latency >/dev/null
sensor="$build/userspace/sensor/vigil-sensor"
bench="$build/tests/bench/bench_alert_latency"
collector="--collector=$build/userspace/collector/vigil-collector"

echo "== quiet node: $count alerts, one every ${interval} ms"
"$bench" "$sensor" "$count" "$interval" "$collector"

echo "== busy node: the same while two shells exec /bin/true in a loop"
churn=()
for _ in 1 2; do
  (while :; do /bin/true; done) &
  churn+=($!)
done
trap 'kill "${churn[@]}" 2>/dev/null || true' EXIT
"$bench" "$sensor" "$count" "$interval" "$collector"
