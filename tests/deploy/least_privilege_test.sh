#!/usr/bin/env bash
# The chart's least-privilege claim, for real: builds the image
# (scripts/build-image.sh), imports it into a containerd of the test's own,
# renders the chart, and runs the sensor container under containerd/runc with
# exactly the capabilities, host mounts and security context of the rendered
# DaemonSet (not privileged; daemonset_to_ctr.py does the kubelet's part), and
# the collector container as the chart's Deployment says (non-root). The two
# share a network namespace the test creates (the pod network). A labelled
# "pod" container then execs, connects and writes a file, and those events
# must reach the collector with the pod's labels. The sensor's /readyz is
# probed the way the kubelet would. Finally the sensor is started without each
# capability it checks for in turn and must exit naming it. Root, real
# containerd/runc, real probes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${VIGIL_BUILD_DIR:?set VIGIL_BUILD_DIR}
tools=${VIGIL_TOOLS_DIR:-$HOME/.cache/vigil/tools}
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $*" >&2; exit 1; fi
  echo "SKIP: $*" >&2
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (containerd, BPF)"
for t in /usr/bin/containerd /usr/bin/ctr /usr/sbin/runc /bin/busybox "$tools/bin/helm"; do
  [ -x "$t" ] || skip "$t missing (scripts/install-deps.sh)"
done

tmp=$(mktemp -d /var/tmp/vigil-lp.XXXXXX)
netns=vigil-lp-$$
tag=lp-$$
ctrd=$tmp/containerd
ctrd_pid=
early_home='' early_pid=
ctr() { /usr/bin/ctr -a "$ctrd/containerd.sock" -n k8s.io "$@"; }
cleanup() {
  set +e
  for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s KILL "$t" >/dev/null 2>&1; done
  sleep 0.5
  for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $(ctr containers ls -q 2>/dev/null); do ctr containers delete "$c" >/dev/null 2>&1; done
  ctr images unmount "$tmp/sensor-root" >/dev/null 2>&1 || umount "$tmp/sensor-root" 2>/dev/null
  [ -n "$ctrd_pid" ] && kill "$ctrd_pid" && wait "$ctrd_pid"
  ip netns delete "$netns" 2>/dev/null
  umount -R "$ctrd/root" 2>/dev/null
  [ -n "$early_pid" ] && kill "$early_pid"
  rm -rf "$tmp" "$early_home"
}
trap cleanup EXIT

# The kernel filesystems a node has mounted (this machine does not at boot).
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing

echo "== image"
"$repo/scripts/build-image.sh" --build-dir "$build" --out "$tmp/vigil.tar" --ref "localhost/vigil:$tag" >/dev/null
"$repo/scripts/lib/containerd-sandbox.sh" "$ctrd" &
ctrd_pid=$!
for _ in $(seq 100); do [ -S "$ctrd/containerd.sock" ] && ctr version >/dev/null 2>&1 && break; sleep 0.1; done
ctr images import "$tmp/vigil.tar" >/dev/null
ctr images ls -q | grep -qx "localhost/vigil:$tag" || { echo "FAIL: image not imported"; exit 1; }
"$repo/scripts/lib/busybox-image.sh" "$ctrd/containerd.sock" localhost/busybox:lp "$tmp/busybox" >/dev/null
# Every binary in the image runs from it (its libraries are all there) and
# says what it is.
for b in vigil-sensor vigil-collector vigilctl; do
  # ctr can lose the output of a task that exits at once on a loaded host
  # (seen in CI beside the qemu matrix: empty, where the same run alone
  # passes). An empty answer is asked for again, twice at most.
  for try in 1 2 3; do
    v=$(ctr run --rm "localhost/vigil:$tag" "lp-version-$b-$try" "/usr/bin/$b" --version 2>&1) || true
    [ -n "$v" ] && break
  done
  grep -qE "^$b [0-9.]+ \(commit [0-9a-f]+, BPF ABI [0-9]+\)$" <<<"$v" || { echo "FAIL: $b --version in the image: $v"; exit 1; }
  echo "$v"
done

echo "== chart"
# This node's cgroup2: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid nodes.
cg=$(awk '$9 == "cgroup2" && $4 == "/" {print $5; exit}' /proc/self/mountinfo)
cg_rel=${cg#/sys/fs/cgroup}
mkdir -p "$tmp/spool" "$tmp/collector-spool" "$tmp/run"
chown 65532:65532 "$tmp/collector-spool"
"$tools/bin/helm" template vigil "$repo/deploy/helm/vigil" --namespace vigil \
  --set tls.mode=plaintext --set image.repository=localhost/vigil --set image.tag="$tag" \
  --set sensor.cgroupRoot="/host/sys/fs/cgroup$cg_rel" --set sensor.hostPaths.spool="$tmp/spool" \
  --set sensor.runtime.containerd="$ctrd/containerd.sock" |
  python3 -c 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))' \
    >"$tmp/objects.json"

# ctr flags for a container of the chart; @emptydir/NAME becomes a fresh directory.
# The node's pid namespace is pid 1's; on a test machine that is itself a
# sandbox pid 1 may be out of reach, and this shell's is the same namespace.
flags_for() {
  "$here/daemonset_to_ctr.py" "$tmp/objects.json" "$@" |
    sed "s|@emptydir/|$tmp/emptydir-|; s|/proc/1/ns/pid|/proc/$$/ns/pid|"
}
# A capability this machine's own bounding set lacks cannot be granted to a
# container here; it is left out, said so, and must not be one the sensor
# checks for on this kernel (it would then refuse to start below).
ungrantable=()
bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
for cap in $(python3 -c 'import json, sys
ds = [o for o in json.load(open(sys.argv[1])) if o["kind"] == "DaemonSet"][0]
print(" ".join(ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"]))' "$tmp/objects.json"); do
  n=$(grep -w "CAP_$cap" /usr/include/linux/capability.h | awk '$1 == "#define" {print $3; exit}')
  if (( (bnd >> n & 1) == 0 )); then
    echo "NOTE: this machine cannot grant CAP_$cap (not in its bounding set): the sensor runs without it"
    ungrantable+=(--drop-cap "$cap")
  fi
done
ip netns add "$netns"
ip -n "$netns" link set lo up

echo "== collector (the chart's Deployment: non-root, no capabilities, read-only root)"
mapfile -t cflags < <(flags_for Deployment/vigil-collector collector --set-arg=--listen=127.0.0.1:7443)
sep=$(printf '%s\n' "${cflags[@]}" | grep -nx -- -- | cut -d: -f1)
mkdir -p "$tmp/emptydir-spool" && chown 65532:65532 "$tmp/emptydir-spool"
ctr run -d "${cflags[@]:0:sep-1}" --with-ns "network:/var/run/netns/$netns" "localhost/vigil:$tag" lp-collector \
  "${cflags[@]:sep}" >/dev/null
for _ in $(seq 100); do
  ip netns exec "$netns" busybox wget -q -O /dev/null http://127.0.0.1:9477/readyz 2>/dev/null && break
  sleep 0.1
done
ip netns exec "$netns" busybox wget -q -O /dev/null http://127.0.0.1:9477/readyz || {
  echo "FAIL: collector not ready"; ctr tasks ls; exit 1
}
cpid=$(ctr tasks ls | awk '$1 == "lp-collector" {print $2}')
uid=$(awk '/^Uid:/ {print $2}' "/proc/$cpid/status")
[ "$uid" = 65532 ] || { echo "FAIL: the collector runs as uid $uid"; exit 1; }
grep -q '^CapEff:	0000000000000000' "/proc/$cpid/status" || { echo "FAIL: collector holds capabilities"; exit 1; }
echo "collector: uid $uid, no capabilities"

# The sensor's root: the imported image, from containerd's snapshot of it.
mkdir -p "$tmp/sensor-root"
# Writable like the snapshot the kubelet's runtime prepares (runc makes the
# mount points in it); the container's root is then remounted read-only.
ctr images mount --rw "localhost/vigil:$tag" "$tmp/sensor-root" >/dev/null
LAUNCH=
run_sensor() {  # id, extra daemonset_to_ctr args...; in the foreground unless RUN_DETACHED, under $LAUNCH
  local id=$1
  shift
  local f s
  mapfile -t f < <(flags_for DaemonSet/vigil-sensor sensor --env NODE_NAME=lp-node \
    --set-arg=--collector=127.0.0.1:7443 "${ungrantable[@]}" "$@")
  s=$(printf '%s\n' "${f[@]}" | grep -nx -- -- | cut -d: -f1)
  rm -rf "$tmp/emptydir-run" && mkdir -p "$tmp/emptydir-run"
  $LAUNCH /usr/bin/ctr -a "$ctrd/containerd.sock" -n k8s.io run ${RUN_DETACHED:+-d} --rootfs "${f[@]:0:s-1}" --with-ns "network:/var/run/netns/$netns" \
    "$tmp/sensor-root" "$id" "${f[@]:s}"
}

echo "== a capability missing: the sensor refuses to start and names it"
fail=0
for cap in BPF PERFMON SYS_PTRACE; do
  out=$(LAUNCH="timeout 60" run_sensor "lp-nocap-$cap" --drop-cap "$cap" 2>&1) && rc=0 || rc=$?
  ctr containers delete "lp-nocap-$cap" >/dev/null 2>&1 || true
  if [ $rc = 0 ] || ! grep -q "CAP_$cap" <<<"$out"; then
    echo "FAIL: without CAP_$cap: exit $rc: $out"; fail=1
  else
    echo "without CAP_$cap: exit $rc: $(grep -o "missing capabilities.*" <<<"$out" | cut -c1-120)"
  fi
done

# A process of another user that was running before the sensor: the sensor
# learns it from /proc (its exe and cwd links), not from the probes. Its cwd
# is a 0700 directory of uid 1000; it execs a marker on SIGUSR1 (below).
echo "== a process of uid 1000 that predates the sensor"
early_home=$(mktemp -d /var/tmp/vigil-lp-home.XXXXXX)
chown 1000:1000 "$early_home"
setpriv --reuid=1000 --regid=1000 --clear-groups /bin/sh -c \
  'cd "$1" && trap "/bin/true lp-early-marker" USR1 && while :; do sleep 0.2; done' sh "$early_home" &
early_pid=$!

echo "== the sensor with exactly the DaemonSet's privileges"
RUN_DETACHED=1 run_sensor lp-sensor >/dev/null
spid=$(ctr tasks ls | awk '$1 == "lp-sensor" {print $2}')
# What runc gave it, read back from the kernel: uid 0, the four capabilities, no_new_privs.
python3 - "$spid" "${ungrantable[@]}" <<'PY' || fail=1
import sys
st = dict(l.split(":\t", 1) for l in open(f"/proc/{sys.argv[1]}/status").read().splitlines() if ":\t" in l)
names = {21: "SYS_ADMIN", 39: "BPF", 38: "PERFMON", 24: "SYS_RESOURCE", 19: "SYS_PTRACE", 2: "DAC_READ_SEARCH"}
eff = int(st["CapEff"], 16)
held = {i for i in range(64) if eff >> i & 1}
number = {v: k for k, v in names.items()}
want = {39, 38, 24, 19} - {number[n] for n in sys.argv[2:] if n in number}
errors = []
if held != want: errors.append(f"effective capabilities {sorted(held)} != {sorted(want)}")
if int(st["CapBnd"], 16) != eff: errors.append("bounding set wider than the effective set")
if st["Uid"].split()[0] != "0": errors.append(f"uid {st['Uid']}")
if st.get("NoNewPrivs", "").strip() != "1": errors.append("no_new_privs not set")
if st.get("Seccomp", "").strip() != "2": errors.append("no seccomp filter")
for e in errors: print("FAIL:", e)
print("sensor: uid 0, capabilities", ", ".join(names[i] for i in sorted(held) if i in names), ", no_new_privs, seccomp")
sys.exit(1 if errors else 0)
PY
ready=0
for _ in $(seq 300); do
  if ip netns exec "$netns" busybox wget -q -O /dev/null http://127.0.0.1:9476/readyz 2>/dev/null; then ready=1; break; fi
  sleep 0.2
done
if [ $ready = 0 ]; then
  echo "FAIL: sensor never ready"; ctr tasks ls
  exit 1
fi
echo "sensor: /readyz 200"

echo "== the early process's exec: its parent's exe and cwd, read from /proc"
kill -USR1 "$early_pid"
found=0
for _ in $(seq 150); do
  if python3 - "$tmp/emptydir-spool/events.jsonl" "$early_home" <<'PY'
import json, sys
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    sys.exit(1)
for line in lines:
    e = json.loads(line)
    if e["kind"] != "EVENT_KIND_EXEC" or "lp-early-marker" not in e["process"].get("argv", []): continue
    parent = (e.get("ancestors") or [{}])[0]
    print(f"exec of uid {e['process'].get('uid')}: parent exe {parent.get('exe')!r} cwd {parent.get('cwd')!r}")
    sys.exit(0 if parent.get("exe") and parent.get("cwd", "").endswith(sys.argv[2]) else 2)
sys.exit(1)
PY
  then found=1; break
  elif [ $? = 2 ]; then break; fi
  sleep 0.2
done
[ $found = 1 ] || { echo "FAIL: no exec of the early process with its parent's exe and cwd"; fail=1; }

echo "== a labelled pod container: exec, network, file"
pod_uid=$(cat /proc/sys/kernel/random/uuid)
cid=lp-web-$$
ctr run --rm --label io.kubernetes.pod.name=web-lp --label io.kubernetes.pod.namespace=prod \
  --label io.kubernetes.pod.uid="$pod_uid" --label io.kubernetes.container.name=app \
  --cgroup "/kubepods/besteffort/pod$pod_uid/$cid" --with-ns "network:/var/run/netns/$netns" \
  localhost/busybox:lp "$cid" /bin/sh -c \
  'echo secret >/tmp/lp-written; nc -l -p 8081 >/dev/null & sleep 0.3; echo hi | nc 127.0.0.1 8081; /bin/true lp-exec-marker; sleep 1' \
  >/dev/null 2>&1 || true

events=$tmp/emptydir-spool/events.jsonl
found=0
for _ in $(seq 150); do
  if python3 - "$events" <<'PY'
import json, sys
need = {"EVENT_KIND_EXEC", "EVENT_KIND_TCP_CONNECT", "EVENT_KIND_FILE_OPEN"}
seen = {}
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    sys.exit(1)
for line in lines:
    e = json.loads(line)
    w = e.get("workload", {})
    if w.get("podName") != "web-lp" or w.get("podNamespace") != "prod": continue
    k = e["kind"]
    if k == "EVENT_KIND_EXEC" and "lp-exec-marker" not in e["process"].get("argv", []): continue
    if k == "EVENT_KIND_FILE_OPEN" and e.get("file", {}).get("path") != "/tmp/lp-written": continue
    if k == "EVENT_KIND_TCP_CONNECT" and e.get("tcpConnect", {}).get("remote", {}).get("port") != 8081: continue
    if e.get("node") != "lp-node": continue
    seen[k] = e
if need <= seen.keys():
    for k in sorted(need):
        w = seen[k]["workload"]
        print(f"{k}: pod {w['podNamespace']}/{w['podName']} container {w.get('containerName')} node {seen[k]['node']}")
    sys.exit(0)
sys.exit(1)
PY
  then found=1; break; fi
  sleep 0.2
done
if [ $found = 0 ]; then
  echo "FAIL: the pod's exec, connect and file events did not all reach the collector with pod labels"
  grep -c . "$events" 2>/dev/null || true
  grep web-lp "$events" 2>/dev/null | head -c 3000 || true
  fail=1
fi
[ $fail = 0 ] && echo "least privilege: PASS"
exit $fail
