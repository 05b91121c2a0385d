#!/usr/bin/env bash
# Shows `vigilctl tail -o compact` in a real terminal: runs a sensor, runs
# vigilctl in a tmux pane, makes a few processes do things, and prints the
# captured screen (pass -e to keep the colours). Exits non-zero when the
# screen lacks the expected lines. Needs root; builds nothing (run
# scripts/build.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VIGIL_BUILD_DIR:-build}
if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
  # Under CI a different message: ctest's skip pattern must not match a failure.
  if [ "${CI:-}" = true ]; then echo "CI=true but tail-demo cannot run: needs root and kernel BTF"; exit 1; fi
  echo "bpf tests need root and kernel BTF: tail-demo runs a real sensor"
  exit 0
fi
escapes=${1:-}
dir=$(mktemp -d /tmp/vigil-tail-demo-XXXXXX)
session=vigil-tail-demo-$$
sensor_pid=
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null && wait "$sensor_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$build/userspace/sensor/vigil-sensor" --output="$dir/events.jsonl" --api_socket="$dir/sensor.sock" \
  --metrics_address=127.0.0.1:0 --log_level=warn 2>"$dir/sensor.log" &
sensor_pid=$!
for _ in $(seq 100); do [ -S "$dir/sensor.sock" ] && break; sleep 0.1; done

# Only this demo's processes (others run tests on this machine too): its
# programs are run from $dir, and the filter is on the executable's path.
mkdir "$dir/bin"
for p in sh echo ls false sleep cat; do ln -s "/bin/$p" "$dir/bin/$p"; done
tmux new-session -d -s "$session" -x 140 -y 20 \
  "$build/userspace/cli/vigilctl --socket $dir/sensor.sock tail -o compact --process '^$dir/bin/'"
for _ in $(seq 100); do tmux capture-pane -p -t "$session" | grep -q . && break; sleep 0.1; done
sleep 0.5

b="$dir/bin"
"$b/sh" -c "$b/echo hello; $b/ls /tmp; $b/false; $b/sh -c 'kill -9 \$\$'; $b/cat /etc/hostname" >/dev/null 2>&1 || true
sleep 1.5
screen=$(tmux capture-pane -p $escapes -t "$session")
echo "$screen"
for want in 'exec .*/bin/echo hello' 'exit .* false .*exit 1' 'exit .* sh .*signal 9' 'exec .*/bin/cat /etc/hostname'; do
  if ! grep -Eq "$want" <<<"$(tmux capture-pane -p -t "$session")"; then
    echo "tail-demo: no line matching '$want' on the screen" >&2
    exit 1
  fi
done
