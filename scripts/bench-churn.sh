#!/usr/bin/env bash
# Churn benchmark (not a ctest test: it takes minutes). Runs CONTAINERS
# short-lived containers, then PROCESSES short-lived host processes, in a row,
# under a real vigil-sensor and a containerd of its own; records the sensor's
# cache sizes (from its health events), CPU time and memory before, during
# and after. Caches and memory must come back to their baseline once the
# churn is over.
#
#   sudo scripts/bench-churn.sh                      # 1000 containers, 100000 processes
#   sudo CONTAINERS=200 PROCESSES=20000 scripts/bench-churn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
containers=${CONTAINERS:-1000}
processes=${PROCESSES:-100000}
build=${VIGIL_BUILD_DIR:-build}
sensor_bin=$build/userspace/sensor/vigil-sensor
[ "$(id -u)" -eq 0 ] || { echo "bench-churn: needs root" >&2; exit 1; }
[ -x "$sensor_bin" ] || { echo "bench-churn: build $sensor_bin first" >&2; exit 1; }

dir=$(mktemp -d /tmp/vigil-churn-XXXXXX)
scripts/lib/containerd-sandbox.sh "$dir/containerd" &
containerd_pid=$!
sensor_pid=
cleanup() {
  [ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null && wait "$sensor_pid" 2>/dev/null || true
  kill "$containerd_pid" 2>/dev/null && wait "$containerd_pid" 2>/dev/null || true
  umount -R "$dir/containerd/root" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 1" INT TERM
sock=$dir/containerd/containerd.sock
ctr() { /usr/bin/ctr -a "$sock" -n k8s.io "$@"; }
for _ in $(seq 100); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
image=docker.io/vigil/busybox:churn
scripts/lib/busybox-image.sh "$sock" "$image" "$dir/image" >/dev/null

events=$dir/events.json
# A short exit grace, so exited processes leave the cache within the run.
"$sensor_bin" --output="$events" --log_level=warn --health_interval=1s --exit_grace=5s \
  --containerd_socket="$sock" --cri_socket= --docker_socket= 2>"$dir/sensor.err" &
sensor_pid=$!

# One line of sizes and counters from the newest health event, and the RSS.
sample() {
  local h rss
  sleep 2.5  # a fresh health event
  h=$(grep '"health"' "$events" | tail -1)
  # VmRSS counts the ring buffer's pages (file-backed, resident once the
  # kernel has written all of it: a fixed cost that grows in the first
  # minutes whatever the load) and shared libraries' pages as their code is
  # first used. RssAnon is the sensor's own heap and stacks.
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$sensor_pid/status)
  anon=$(awk '/^RssAnon/ {print $2}' /proc/$sensor_pid/status)
  ring=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {m = ($6 == "anon_inode:bpf-map")} m && /^Rss:/ {s += $2} END {print s + 0}' \
    /proc/$sensor_pid/smaps)
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' /proc/$sensor_pid/stat)
  field() { grep -o "\"$1\":\"[0-9]*\"" <<<"$h" | grep -o '[0-9]*' || echo 0; }
  printf '%-28s cpu_s=%-5s rss_kB=%-7s anon_kB=%-6s bpf_maps_kB=%-6s process_cache=%-6s container_cache=%-5s metadata_cache=%-5s evictions=%s/%s metadata_timeouts=%s\n' \
    "$1" "$cpu" "$rss" "$anon" "$ring" "$(field processCacheSize)" "$(field containerCacheSize)" "$(field containerMetadataCacheSize)" \
    "$(field processCacheEvictions)" "$(field containerCacheEvictions)" "$(field containerMetadataTimeouts)"
}

for _ in $(seq 200); do grep -q '"health"' "$events" 2>/dev/null && break; sleep 0.1; done
sample "baseline"
start=$(date +%s)
for i in $(seq "$containers"); do
  id=$(printf 'c%063x' "$i")
  uid=$(printf '%08x-0000-4000-8000-%012x' "$i" "$i")
  ctr run --rm --label io.kubernetes.pod.name=churn-$i --label io.kubernetes.pod.namespace=bench \
    --label io.kubernetes.pod.uid="$uid" --label io.kubernetes.container.name=c \
    --cgroup "/kubepods/besteffort/pod$uid/$id" "$image" "$id" /bin/true >/dev/null
  if [ $((i % (containers / 4 > 0 ? containers / 4 : 1))) -eq 0 ]; then sample "during: $i containers"; fi
done
echo "containers: $containers in $(($(date +%s) - start)) s"
labelled=$(grep -c '"podNamespace":"bench"' "$events" || true)
echo "events labelled with a bench pod: $labelled"
sample "after containers"

start=$(date +%s)
quarter=$((processes / 4 > 0 ? processes / 4 : 1))
for ((i = 1; i <= processes; i++)); do
  /bin/true
  if [ $((i % quarter)) -eq 0 ]; then sample "during: $i processes"; fi
done
echo "processes: $processes in $(($(date +%s) - start)) s"
sleep 6  # exit grace
sample "after processes (+grace)"
# The sensor sees the whole machine: other work there shows in the process cache.
sleep 30
sample "idle 30 s later"
