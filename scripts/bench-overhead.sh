#!/usr/bin/env bash
# What the sensor costs the workloads it watches, side by side with peers, in
# one run: every workload under no observer, Vigil (default flags), Vigil with
# every probe and no filter, auditd with equivalent rules, bpftrace with
# equivalent probes, and the floor: empty programs on the very hooks Vigil's
# default probes attach on this kernel. Observers are interleaved (their
# order rotates every round) so that load from the rest of the machine falls
# on all of them alike; medians over the rounds are reported. Not a test:
# nothing asserted.
#
#   sudo scripts/bench-overhead.sh                 # 3 rounds, the issue's sizes
#   sudo ROUNDS=2 RATE_SECONDS=5 OBSERVERS="none vigil bpftrace" scripts/bench-overhead.sh
#   sudo EXEC=static RATES=1600 scripts/bench-overhead.sh   # the exec rates with bench_true
#   sudo SENSOR_BASE=/tmp/old-sensor OBSERVERS="none vigil vigil-base" scripts/bench-overhead.sh
#
# SENSOR_BASE: another vigil-sensor binary, run with the default flags as the
# observer "vigil-base", to compare two builds in the same run.
#
# floor: the script starts the sensor once, reads the hooks it attached
# (bpftool perf list: tracepoints, raw tracepoints, kprobes) and attaches an
# empty bpftrace program to each. bpftrace 0.17 (Debian 12) has no raw
# tracepoints: Vigil's raw ones (the scheduler's exec, fork and exit) get the
# regular tracepoint of the same event, which costs a little more, so on the
# process workloads the floor is, if anything, high. Hooks that are no perf
# event (fentry, LSM: not on this project's development host) are left out,
# with a warning.
#
# EXEC: the program the fixed exec rates start, /bin/true (default) or
# "static" for build/tests/bench/bench_true (`ninja bench_true`): /bin/true
# reaches only ~500 execs/s on a 2-core host, bench_true 1,600 (see
# scripts/bench-sensor-cpu.sh). The exec storm runs /bin/true either way.
#
# FILE_DIR: where the create + write + unlink and mixed workloads make their
# files. By default, a 1 GiB ext4 with a journal that the script makes on a
# loop device, as a node's root filesystem has one (ext4 or xfs). Without a
# journal (this project's development host), ext4 skips, when it allocates
# an inode, every inode freed in the last minute (five more while its inode
# table block is unwritten: recently_deleted()), so each create costs more
# the more files were deleted before it: by the previous observer's
# workloads, whose length differs per observer.
#
# WORKLOADS: which workloads run, of exec-storm open-ro create-write-unlink
# tcp-loopback exec-rates mixed (all by default). With fewer of them, many
# more rounds fit in the same time: the way to tell a goal at the edge from
# the host's own spread.
#
# Output: a table on stdout, and raw rows (round observer workload wall_s
# observer_cpu_s events drops) in $OUT/raw.tsv (OUT defaults to a temp dir).
# ratio_90 is a 90 % interval for the ratio: the rounds resampled (bootstrap,
# each round's observers kept together), the ratio of medians taken again.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
rate_seconds=${RATE_SECONDS:-5}
observers=${OBSERVERS:-"none vigil vigil-all auditd bpftrace floor"}
exec_count=${EXEC_COUNT:-3000}
open_count=${OPEN_COUNT:-500000}
cwu_count=${CWU_COUNT:-20000}
tcp_count=${TCP_COUNT:-5000}
mixed_count=${MIXED_COUNT:-200}
rates=${RATES-"100 200 400 800 1600"}  # RATES="" skips the fixed rates
all_workloads="exec-storm open-ro create-write-unlink tcp-loopback exec-rates mixed"
workloads=" ${WORKLOADS:-$all_workloads} "
exec_path=${EXEC:-/bin/true}
build=${VIGIL_BUILD_DIR:-build}
sensor_bin=$build/userspace/sensor/vigil-sensor
sensor_base=${SENSOR_BASE:-}
workload=$build/tests/bench/bench_workload
[ "$(id -u)" -eq 0 ] || { echo "bench-overhead: needs root" >&2; exit 1; }
[ -x "$sensor_bin" ] && [ -x "$workload" ] || { echo "bench-overhead: ninja -C $build vigil-sensor bench_workload" >&2; exit 1; }
[ "$exec_path" = static ] && exec_path=$(realpath "$build/tests/bench/bench_true")
[ -x "$exec_path" ] || { echo "bench-overhead: no $exec_path (ninja -C $build bench_true)" >&2; exit 1; }
[[ " $observers " != *" vigil-base "* ]] || [ -x "$sensor_base" ] ||
  { echo "bench-overhead: the vigil-base observer needs SENSOR_BASE=<a vigil-sensor binary>" >&2; exit 1; }
for w in $workloads; do
  [[ " $all_workloads " == *" $w "* ]] || { echo "bench-overhead: no workload $w (of: $all_workloads)" >&2; exit 1; }
done
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing

out=${OUT:-$(mktemp -d /tmp/vigil-overhead-XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/vigil-overhead-work-XXXXXX)
raw=$out/raw.tsv
: >"$raw"
obs_pid=
cleanup() {
  stop_observer || true
  ! mountpoint -q "$work/fs" || umount "$work/fs"
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM
file_dir=${FILE_DIR:-}
if [ -z "$file_dir" ]; then
  file_dir=$work/fs
  mkdir "$file_dir"
  truncate -s 1G "$work/fs.img"
  mkfs.ext4 -q -F "$work/fs.img"
  mount -o loop "$work/fs.img" "$file_dir"
fi

# CPU time in ns of the given pids, threads included: the scheduler's run
# time (/proc/PID/task/*/schedstat), not utime + stime, which count in ticks
# of 10 ms, 0.2 % of a core over a 5 s rate.
cpu_of() {
  local p
  for p in "$@"; do
    cat /proc/"$p"/task/*/schedstat 2>/dev/null || true
  done | awk '{s += $1} END {printf "%.0f", s}'
}
observer_pids() {
  [ -n "$obs_pid" ] || return 0
  echo "$obs_pid"
  [ "$observer" = auditd ] && pgrep -x kauditd || true
}
# Events the observer has delivered so far.
events_of() {
  case $observer in
    vigil*) grep -vc '"health"' "$work/events.jsonl" || true ;;
    auditd) grep -c '^type=SYSCALL' /var/log/audit/audit.log 2>/dev/null || echo 0 ;;
    bpftrace) grep -vc '^Attaching' "$work/bpftrace.out" || true ;;
    *) echo 0 ;;
  esac
}
drops_of() {
  case $observer in
    vigil*)
      python3 - "$work/events.jsonl" <<'EOF'
import json, sys
drops = 0
for line in open(sys.argv[1]):
    if '"health"' not in line: continue
    h = json.loads(line)["health"]
    drops = sum(int(k.get(f, 0)) for k in h.get("kinds", []) for f in ("droppedRingbuf", "droppedScratch", "droppedQueue"))
print(drops)
EOF
      ;;
    auditd) auditctl -s | awk '$1 == "lost" {print $2}' ;;
    bpftrace) grep -c 'Lost' "$work/bpftrace.err" || true ;;
    *) echo 0 ;;
  esac
}

# Starts a sensor (BIN, then its flags) as obs_pid, and returns once it streams.
start_sensor() {
  local bin=$1
  shift
  "$bin" --api_socket="unix://$work/sensor.sock" --metrics_address=127.0.0.1:0 --spool_dir="$work/spool" "$@" \
    2>"$work/sensor.err" &
  obs_pid=$!
  for _ in $(seq 600); do grep -q 'streaming events' "$work/sensor.err" && break; sleep 0.1; done
}

# Starts bpftrace with PROGRAM as obs_pid, and returns once it has attached.
start_bpftrace() {
  bpftrace -o "$work/bpftrace.out" -e "$1" 2>"$work/bpftrace.err" &
  obs_pid=$!
  for _ in $(seq 600); do grep -q 'Attaching' "$work/bpftrace.out" 2>/dev/null && break; sleep 0.1; done
}

# The floor's bpftrace program: an empty body on every hook a sensor with the
# default flags attaches here (run in a subshell: its obs_pid stays there).
floor_program() {
  local probes
  start_sensor "$sensor_bin" --output=/dev/null
  probes=$(bpftool perf list -j | python3 -c '
import glob, json, sys
pid = int(sys.argv[1])
probes, other = set(), 0
for p in json.load(sys.stdin):
    if p.get("pid") != pid: continue
    kind = p.get("fd_type")
    if kind in ("tracepoint", "raw_tracepoint"):
        # The event category, from tracefs: raw tracepoints attach by event name only.
        cats = glob.glob("/sys/kernel/tracing/events/*/" + p["tracepoint"])
        if cats: probes.add("tracepoint:%s:%s" % (cats[0].split("/")[-2], p["tracepoint"]))
        else: other += 1
    elif kind in ("kprobe", "kretprobe"):
        probes.add("%s:%s" % (kind, p["func"]))
    else:
        other += 1
if other: print("bench-overhead: %d of the sensor hooks have no floor here" % other, file=sys.stderr)
print(", ".join(sorted(probes)))
' "$obs_pid")
  kill -TERM "$obs_pid" 2>/dev/null || true
  wait "$obs_pid" 2>/dev/null || true
  [ -n "$probes" ] || { echo "bench-overhead: found no sensor hooks for the floor" >&2; exit 1; }
  echo "floor: empty programs on $(tr ',' '\n' <<<"$probes" | wc -l) hooks" >&2
  echo "$probes { }"
}
[[ " $observers " != *" floor "* ]] || floor_prog=$(floor_program)

start_observer() {
  rm -f "$work/events.jsonl" "$work/sensor.err" "$work/bpftrace.out" "$work/bpftrace.err"
  case $observer in
    none) obs_pid= ;;
    vigil*)
      local bin=$sensor_bin extra=()
      [ "$observer" = vigil-all ] && extra=(--file_writes_only=false)
      [ "$observer" = vigil-base ] && bin=$sensor_base
      start_sensor "$bin" --output="$work/events.jsonl" "${extra[@]}"
      ;;
    auditd)
      auditctl -D >/dev/null
      auditd -n &
      obs_pid=$!
      sleep 1
      # What Vigil's default probes report: exec, exit, fork, file changes,
      # TCP and the security syscalls; opens are all audited (auditd cannot
      # drop read-only ones before it formats them).
      auditctl -a always,exit -F arch=b64 \
        -S execve,execveat,exit_group,clone,clone3,fork,vfork \
        -S open,openat,openat2,creat,unlink,unlinkat,rename,renameat,renameat2 \
        -S chmod,fchmod,fchmodat,chown,fchown,lchown,fchownat \
        -S connect,accept,accept4,bind,listen \
        -S ptrace,setns,unshare,mount,umount2,init_module,finit_module,bpf,memfd_create,setuid,setgid,capset,kill >/dev/null
      auditctl -e 1 >/dev/null
      ;;
    bpftrace)
      start_bpftrace '
        tracepoint:syscalls:sys_enter_execve { printf("exec %d %s\n", pid, str(args->filename)); }
        tracepoint:sched:sched_process_fork { printf("fork %d %d\n", args->parent_pid, args->child_pid); }
        tracepoint:sched:sched_process_exit { printf("exit %d\n", pid); }
        tracepoint:syscalls:sys_enter_openat /args->flags & 0x243/ { printf("open %d %s\n", pid, str(args->filename)); }
        tracepoint:syscalls:sys_enter_unlinkat, tracepoint:syscalls:sys_enter_unlink { printf("unlink %d %s\n", pid, str(args->pathname)); }
        tracepoint:sock:inet_sock_set_state /args->protocol == 6/ { printf("tcp %d %d %d\n", pid, args->oldstate, args->newstate); }
        tracepoint:syscalls:sys_exit_accept4 { printf("accept %d %d\n", pid, args->ret); }
      '
      ;;
    floor) start_bpftrace "$floor_prog" ;;
  esac
  sleep 1
}

stop_observer() {
  [ -n "$obs_pid" ] || return 0
  if [ "$observer" = auditd ]; then
    auditctl -D >/dev/null
    auditctl -e 0 >/dev/null
  fi
  kill -TERM "$obs_pid" 2>/dev/null || true
  wait "$obs_pid" 2>/dev/null || true
  obs_pid=
  # What it wrote reaches the disk now, not in the next observer's turn.
  sync
}

wanted() { [[ $workloads == *" $1 "* ]]; }

# One workload under the running observer: a raw row.
measure() {
  local round=$1 name=$2
  shift 2
  local pids cpu0 cpu1 ev0 ev1 wall
  pids=$(observer_pids)
  # shellcheck disable=SC2086
  cpu0=$(cpu_of $pids)
  ev0=$(events_of)
  wall=$("$workload" "$@" | tail -1)
  sleep 0.5  # what is still in flight reaches the observer's output
  # shellcheck disable=SC2086
  cpu1=$(cpu_of $pids)
  ev1=$(events_of)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$observer" "$name" "$wall" \
    "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')" "$((ev1 - ev0))" >>"$raw"
}

for round in $(seq "$rounds"); do
  # Rotate the order each round.
  set -- $observers
  for _ in $(seq $(((round - 1) % $#))); do set -- "${@:2}" "$1"; done
  for observer in "$@"; do
    echo "round $round: $observer" >&2
    start_observer
    wanted exec-storm && measure "$round" exec-storm exec "$exec_count"
    wanted open-ro && measure "$round" open-ro open /etc/hostname "$open_count"
    wanted create-write-unlink && measure "$round" create-write-unlink cwu "$file_dir" "$cwu_count"
    wanted tcp-loopback && measure "$round" tcp-loopback tcp "$tcp_count"
    if wanted exec-rates; then
      for rate in $rates; do measure "$round" "exec-$rate/s" exec-rate "$rate" "$rate_seconds" "$exec_path"; done
    fi
    wanted mixed && measure "$round" mixed mixed "$file_dir" "$mixed_count"
    drops=$(drops_of)
    stop_observer
    # Vigil's final counts are written at shutdown.
    [[ $observer == vigil* ]] && drops=$(drops_of)
    printf '%s\t%s\tdrops\t0\t0\t%s\n' "$round" "$observer" "${drops:-0}" >>"$raw"
  done
done

# Medians per (observer, workload); ratios to no observer; observer CPU as %
# of one core over the workload's wall time.
python3 - "$raw" "$observers" <<'EOF' | tee "$out/summary.tsv"
import random, statistics, sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
observers = sys.argv[2].split()
wall = collections.defaultdict(list); cpu = collections.defaultdict(list); ev = collections.defaultdict(list)
by_round = collections.defaultdict(dict)
drops = collections.defaultdict(int)
order = []
for rnd, obs, name, w, c, e in rows:
    if name == "drops":
        drops[obs] += int(e or 0); continue
    if name not in order: order.append(name)
    wall[obs, name].append(float(w)); cpu[obs, name].append(float(c)); ev[obs, name].append(int(e))
    by_round[name].setdefault(rnd, {})[obs] = float(w)

def interval(name, obs):
    """5th and 95th percentiles of the ratio of medians over resampled rounds."""
    rounds = [r for r in by_round[name].values() if "none" in r and obs in r]
    if obs == "none" or len(rounds) < 3: return "-"
    rng = random.Random(1)
    ratios = sorted(
        statistics.median(r[obs] for r in sample) / statistics.median(r["none"] for r in sample)
        for sample in ([rng.choice(rounds) for _ in rounds] for _ in range(2000)))
    return f"{ratios[100]:.2f}-{ratios[1899]:.2f}"

print("workload\tobserver\twall_s\tratio\tratio_90\tobserver_cpu_%core\tevents")
for name in order:
    base = statistics.median(wall["none", name]) if wall["none", name] else None
    for obs in observers:
        if not wall[obs, name]: continue
        w = statistics.median(wall[obs, name]); c = statistics.median(cpu[obs, name])
        ratio = f"{w / base:.2f}" if base else "-"
        print(f"{name}\t{obs}\t{w:.3f}\t{ratio}\t{interval(name, obs)}\t{100 * c / w:.2f}\t{int(statistics.median(ev[obs, name]))}")
for obs in observers:
    print(f"drops\t{obs}\t-\t-\t-\t-\t{drops[obs]}")
EOF
echo "raw rows: $raw" >&2

# Plots (PNG) when gnuplot is there: observer CPU against the exec rate, and
# each workload's slowdown per observer.
command -v gnuplot >/dev/null || exit 0
# One observer's points together, by rate, so that its line joins them.
awk -F'\t' 'NR > 1 && $1 ~ /^exec-[0-9]+\/s$/ {r = $1; sub(/^exec-/, "", r); sub(/\/s$/, "", r); print $2, r, $6}' \
  "$out/summary.tsv" | sort -k1,1 -k2,2n >"$out/cpu.dat"
awk -F'\t' 'NR > 1 && $1 !~ /^exec-[0-9]+\/s$/ && $1 != "drops" && $4 != "-" {print $1, $2, $4}' "$out/summary.tsv" >"$out/ratio.dat"
plot_cpu=""
for o in $observers; do
  [ "$o" = none ] && continue
  plot_cpu+="'$out/cpu.dat' using (strcol(1) eq '$o' ? \$2 : 1/0):3 with linespoints title '$o', "
done
# Without fixed rates (RATES="") there is no CPU curve to draw.
[ -s "$out/cpu.dat" ] && gnuplot <<GP
set terminal pngcairo size 900,500
set output '$out/observer-cpu.png'
set title 'Observer CPU while /bin/true is started at a fixed rate'
set xlabel 'execs per second'
set ylabel '% of one core'
set logscale x 2
set key top left
plot ${plot_cpu%, }
GP
gnuplot <<GP
set terminal pngcairo size 1000,500
set output '$out/slowdown.png'
set title 'Wall time relative to no observer (median)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'x no observer'
set yrange [0:*]
set xtics rotate by -20
set key top left
# The awk program in single quotes ('' in a gnuplot string), or the shell
# gnuplot runs it with would expand \$2.
plot for [o in "$(echo $observers | sed 's/none//')"] '< awk -v o='.o.' ''\$2 == o'' $out/ratio.dat' using 3:xtic(1) title o
GP
echo "plots: $(ls "$out"/*.png | tr '\n' ' ')" >&2
