#!/usr/bin/env bash
# What the DNS probes cost writes that are not DNS. A loop of one-byte
# write()s, each read back (tests/bench/write_loop.cc), on /dev/null (no
# socket), on a loopback UDP socket and on a loopback TCP connection (ports
# other than 53), timed by the loop's own CPU time, under:
#   none      no observer
#   floor     empty cgroup_skb programs (egress and ingress) on the root of
#             cgroup2: the floor of the hook the dns probe uses
#   dns       vigil-sensor with only its dns probe (--disable= everything else)
#   vigil     vigil-sensor with its default probes
#   rw-floor  empty programs on syscalls/sys_{enter,exit}_{write,read}
#             (bpftrace): the floor of hooking write() and read() instead
# Configurations are interleaved, round after round; medians are printed.
#   scripts/bench-dns-cost.sh [ROUNDS]          (as root)
# env: VIGIL_BENCH_WRITES (200000), VIGIL_BUILD_DIR (build)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
writes=${VIGIL_BENCH_WRITES:-200000}
build=${VIGIL_BUILD_DIR:-build}
ninja -C "$build" -j2 vigil-sensor bench_write_loop >/dev/null
sensor=$build/userspace/sensor/vigil-sensor
loop=$build/tests/bench/bench_write_loop
for tool in bpftool bpftrace clang; do
  command -v $tool >/dev/null || { echo "bench-dns-cost: $tool is needed (scripts/install-deps.sh)" >&2; exit 1; }
done
cgroup=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cgroup" ] || { echo "bench-dns-cost: cgroup2 is not mounted" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

work=$(mktemp -d)
pin=/sys/fs/bpf/vigil-bench-dns-$$
observer=""
stop_observer() {
  # bpftrace in a script's background may not stop on SIGTERM: KILL after 5 s
  # (its programs go with its fds).
  if [ -n "$observer" ]; then
    kill -TERM "$observer" 2>/dev/null || true
    for _ in $(seq 1 10); do kill -0 "$observer" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$observer" 2>/dev/null || true
    wait "$observer" 2>/dev/null || true
  fi
  observer=""
  if [ -d "$pin" ]; then
    for dir in egress ingress; do bpftool cgroup detach "$cgroup" "$dir" pinned "$pin/$dir" 2>/dev/null || true; done
    rm -rf "$pin"
  fi
}
trap 'stop_observer; rm -rf "$work"' EXIT

cat >"$work/empty.bpf.c" <<'C'
#include <linux/bpf.h>
#define SEC(name) __attribute__((section(name), used))
SEC("cgroup_skb/egress") int egress(struct __sk_buff *skb) { return 1; }
SEC("cgroup_skb/ingress") int ingress(struct __sk_buff *skb) { return 1; }
char LICENSE[] SEC("license") = "GPL";
C
clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -c "$work/empty.bpf.c" -o "$work/empty.bpf.o"

# Every probe but dns, for --disable.
not_dns=process,file,security,network/tcp_state,network/tcp_connect,network/tcp_accept4,network/tcp_accept
not_dns=$not_dns,network/listen,network/bind_enter,network/bind

start_sensor() {
  "$sensor" --output=/dev/null --node_name=bench --health_interval=3600s --metrics_address= --api_socket= "$@" \
    2>"$work/sensor.log" &
  observer=$!
  for _ in $(seq 1 240); do
    grep -q "streaming events" "$work/sensor.log" && return
    kill -0 "$observer" 2>/dev/null || { cat "$work/sensor.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "bench-dns-cost: sensor did not start" >&2
  exit 1
}

start() {
  case $1 in
    none) ;;
    floor)
      bpftool prog loadall "$work/empty.bpf.o" "$pin"
      for dir in egress ingress; do bpftool cgroup attach "$cgroup" "$dir" pinned "$pin/$dir" multi; done
      ;;
    dns) start_sensor --disable="$not_dns" ;;
    vigil) start_sensor ;;
    rw-floor)
      bpftrace -e 'tracepoint:syscalls:sys_enter_write, tracepoint:syscalls:sys_exit_write,
                   tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_exit_read { }' \
        >"$work/bpftrace.log" 2>&1 &
      observer=$!
      for _ in $(seq 1 120); do
        grep -q "Attaching" "$work/bpftrace.log" && break
        sleep 0.5
      done
      sleep 1
      ;;
  esac
}

configs=(none floor dns vigil rw-floor)
modes=(null udp tcp)
: >"$work/results"
for round in $(seq 1 "$rounds"); do
  for config in "${configs[@]}"; do
    start "$config"
    for mode in "${modes[@]}"; do
      read -r _ _ wall cpu < <("$loop" "$mode" "$writes")
      echo "$config $mode $cpu $wall" >>"$work/results"
    done
    stop_observer
  done
  echo "bench-dns-cost: round $round of $rounds done" >&2
done

python3 - "$work/results" "$writes" "$rounds" <<'PY'
import statistics, sys
path, writes, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cpu = {}
for line in open(path):
    config, mode, c, _ = line.split()
    cpu.setdefault((config, mode), []).append(float(c))
configs = ["none", "floor", "dns", "vigil", "rw-floor"]
modes = ["null", "udp", "tcp"]
ns = {k: statistics.median(v) / writes * 1e9 for k, v in cpu.items()}
print(f"CPU ns per write()+read() of the writing process, median of {rounds} rounds of {writes}")
print(f"{'':10}" + "".join(f"{m:>22}" for m in modes))
for c in configs:
    row = f"{c:10}"
    for m in modes:
        v, base = ns[(c, m)], ns[("none", m)]
        row += f"{v:>10.0f} ns ({v - base:+5.0f})"
    print(row)
PY
