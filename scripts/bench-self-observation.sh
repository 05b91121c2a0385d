#!/usr/bin/env bash
# How many events an idle node's Vigil reports about its own bookkeeping: a
# vigil-collector (file forwarder) and a vigil-sensor streaming to it, both
# from the build, for $1 seconds (default 300), in a temporary state
# directory. Counted from the sensor's own --output: events of either
# daemon's pid, and events of any process about a file in their state
# directories (spool segments, acked file, cursors, resend filter). Other
# processes on the machine are not counted; a tampering test elsewhere would
# show up in the second figure. Health events (the sensor's report on itself)
# are not observations and are left out. Root (the sensor loads its probes).
#
#   scripts/bench-self-observation.sh          5 minutes
#   scripts/bench-self-observation.sh 60       one minute
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
bin=${VIGIL_BUILD_DIR:-build}/userspace
state=$(mktemp -d /tmp/vigil-self-XXXXXX)
mkdir -p "$state/collector"
sensor= collector=
trap 'kill $sensor $collector 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$state"' EXIT

setsid "$bin/collector/vigil-collector" --listen=127.0.0.1:0 --plaintext --forwarders=file \
  --spool_dir="$state/collector" --file_path="$state/collector/events.jsonl" --port_file="$state/port" \
  --metrics_address= --log_level=warn &
collector=$!
for _ in $(seq 200); do [ -s "$state/port" ] && break; sleep 0.1; done
"$bin/sensor/vigil-sensor" --collector="127.0.0.1:$(cat "$state/port")" --collector_plaintext \
  --collector_exe="$(realpath "$bin/collector/vigil-collector")" --spool_dir="$state/spool" \
  --output="$state/events.jsonl" --api_socket="$state/sensor.sock" --metrics_address=127.0.0.1:0 \
  --log_level=warn &
sensor=$!
sleep "$seconds"
kill -TERM $sensor && wait $sensor || true
kill -TERM $collector && wait $collector || true

python3 - "$state" $sensor $collector <<'EOF'
import json, sys
state, pids = sys.argv[1], {int(sys.argv[2]), int(sys.argv[3])}
total = own = touching = 0
kinds = {}
for line in open(f"{state}/events.jsonl"):
    e = json.loads(line)
    total += 1
    if e.get("kind") == "EVENT_KIND_SENSOR_HEALTH":
        continue  # the sensor's own report, not an event it observed
    pid = e.get("process", {}).get("pid", 0)
    path = e.get("file", {}).get("path", "") + e.get("file", {}).get("newPath", "")
    if pid in pids:
        own += 1
        kinds[e.get("kind")] = kinds.get(e.get("kind"), 0) + 1
    elif state in path:
        touching += 1
        kinds["other process on " + e.get("kind", "")] = kinds.get("other process on " + e.get("kind", ""), 0) + 1
print(f"{total} events in the sensor's output; {own} of the daemons' own pids; "
      f"{touching} of other processes on Vigil's files; by kind: {kinds}")
EOF
