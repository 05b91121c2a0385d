#!/usr/bin/env bash
# Load test of vigil-collector: many simulated sensors (one gRPC connection
# each) against one collector on loopback, in a temporary directory, with one
# forwarder: the file forwarder (JSON lines), or azure-logs against
# vigil-azure-emulator (the test stand-in that speaks the Entra token and
# Logs Ingestion APIs over HTTPS; its CPU is not the collector's). Prints
# acknowledged events/s, events/s per collector core received and forwarded,
# and the collector's memory. Not a test: nothing is asserted.
#   scripts/bench-collector.sh [--forwarder=file|azure-logs] [--streams=32] [--seconds=20] [--batch_events=512] [--gzip]
#   COLLECTOR=/tmp/base/vigil-collector scripts/bench-collector.sh ...   # another build of it, for an A/B
set -euo pipefail
cd "$(dirname "$0")/.."
forwarder=file
load_args=()
for arg in "$@"; do
  case $arg in
    --forwarder=*) forwarder=${arg#--forwarder=} ;;
    *) load_args+=("$arg") ;;
  esac
done
case $forwarder in
  file | azure-logs) ;;
  *) echo "--forwarder: file or azure-logs" >&2; exit 2 ;;
esac
scripts/install-deps.sh
build=${VIGIL_BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" -j2 vigil-collector vigil_collector_load vigil-azure-emulator >/dev/null
dir=$(mktemp -d /tmp/vigil-bench-XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT

wait_for() {
  for _ in $(seq 100); do [ -s "$1" ] && return; sleep 0.1; done
  echo "no $1 within 10 s" >&2
  exit 1
}

collector_args=(--listen=127.0.0.1:0 --plaintext --port_file="$dir/port" --spool_dir="$dir/spool"
                --metrics_address= --log_level=warn --forwarders="$forwarder")
if [ "$forwarder" = file ]; then
  collector_args+=(--file_path="$dir/events.jsonl" --file_max_bytes=$((256 << 20)) --file_max_files=2)
else
  mkdir "$dir/pki"
  "$build/tests/support/azure/vigil-azure-emulator" --pki_dir="$dir/pki" --port_file="$dir/azure-port" \
    --client_secret=bench --keep_rows=false &
  pids+=($!)
  wait_for "$dir/azure-port"
  echo -n bench >"$dir/secret"
  azure="https://127.0.0.1:$(cat "$dir/azure-port")"
  collector_args+=(--azure_endpoint="$azure" --azure_authority_host="$azure" --azure_ca_bundle="$dir/pki/ca.pem"
                   --azure_dcr_immutable_id=dcr-00000000000000000000000000000000 --azure_tenant_id=test-tenant
                   --azure_client_id=test-client --azure_client_secret_file="$dir/secret"
                   --azure_dead_letter_dir="$dir/dead-letter")
fi
"${COLLECTOR:-$build/userspace/collector/vigil-collector}" "${collector_args[@]}" &
collector=$!
pids+=("$collector")
wait_for "$dir/port"
"$build/tests/bench/vigil_collector_load" --target="127.0.0.1:$(cat "$dir/port")" --collector_pid="$collector" \
  --cursor_file="$dir/spool/cursors/$forwarder" "${load_args[@]}"
if [ "$forwarder" = file ]; then
  echo "file forwarder output: $(du -shc "$dir"/events.jsonl* | tail -1 | cut -f1) (older files rotated away); spool $(du -sh "$dir/spool" | cut -f1)"
else
  echo "dead-lettered (refused by the stand-in): $(find "$dir/dead-letter" -type f 2>/dev/null | wc -l) files"
fi
