#!/usr/bin/env bash
# Builds Vigil and runs it on this node, as root: a vigil-collector with the
# file forwarder, and the sensor streaming to it over loopback (plaintext,
# explicitly: both ends are on this machine). Events land as JSON lines in
# $VIGIL_EVENTS (default /var/lib/vigil/collector/events.jsonl). Ctrl-C stops
# both. Extra arguments go to vigil-sensor.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
bin=${VIGIL_BUILD_DIR:-build}/userspace
state=${VIGIL_STATE_DIR:-/var/lib/vigil}
events=${VIGIL_EVENTS:-$state/collector/events.jsonl}
port=${VIGIL_COLLECTOR_PORT:-7443}
mkdir -p "$state/collector" "$(dirname "$events")"
rm -f "$state/collector/port"

# Its own session: Ctrl-C reaches the sensor only, and the collector is
# stopped after the sensor has delivered its last events.
setsid "$bin/collector/vigil-collector" --listen="127.0.0.1:$port" --plaintext --forwarders=file \
  --spool_dir="$state/collector" --file_path="$events" --port_file="$state/collector/port" &
collector=$!
sensor=
stop() {
  trap - INT TERM EXIT
  [ -n "$sensor" ] && kill -TERM "$sensor" 2>/dev/null && wait "$sensor" || true
  kill -TERM "$collector" 2>/dev/null && wait "$collector" || true
}
trap stop INT TERM EXIT
for _ in $(seq 100); do [ -s "$state/collector/port" ] && break; sleep 0.1; done  # listening
echo "run: events go to $events (tail -f it)" >&2
"$bin/sensor/vigil-sensor" --collector="127.0.0.1:$port" --collector_plaintext \
  --collector_exe="$(realpath "$bin/collector/vigil-collector")" \
  --spool_dir="$state/spool" --output=/dev/null "$@" &
sensor=$!
wait "$sensor" || true
