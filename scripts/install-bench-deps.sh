#!/usr/bin/env bash
# Installs what the benchmarks need on top of scripts/install-deps.sh: the
# peers measured side by side (auditd, bpftrace), the profiler, Google
# Benchmark for tests/bench/pipeline_bench.cc, gnuplot for the plots in
# docs/BENCHMARKS.md and mkfs.ext4 for bench-overhead.sh's scratch
# filesystem. Not on CI's path: no test needs them.
set -euo pipefail
"$(dirname "$0")/install-deps.sh"
pkgs=(auditd bpftrace linux-perf hyperfine stress-ng libbenchmark-dev gnuplot-nox e2fsprogs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-bench-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
