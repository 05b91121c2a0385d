#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan + UBSan) into
# build-asan/ (or $VIGIL_FUZZ_BUILD_DIR; scripts/sanitize.sh shares it) and
# runs each for a bounded time, starting from its checked-in seed corpus
# (fuzz/corpus/<target>/).
#
#   scripts/fuzz.sh                      every target, 10 minutes each
#   scripts/fuzz.sh --seconds 10         CI's bounded run
#   scripts/fuzz.sh --seconds 3600 dns   one target, an hour
#   scripts/fuzz.sh --build-only         the targets, not run
#
# New inputs go to <build>/fuzz-out/<target>/corpus, crashes to
# <build>/fuzz-out/<target>/crash-*; rerun one with
# `<build>/fuzz/fuzz_<target> <crash file>`. Targets run side by side, one
# per CPU. Prints executions and coverage (libFuzzer's cov/ft) per target;
# exits 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600
build_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --build-only) build_only=true; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls fuzz/corpus))

build=${VIGIL_FUZZ_BUILD_DIR:-build-asan}
[ -f "$build/build.ninja" ] ||
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_FUZZ=ON >/dev/null
ninja -C "$build" -j "$(nproc)" "${targets[@]/#/fuzz_}" >/dev/null || ninja -C "$build" -j 1 "${targets[@]/#/fuzz_}"
$build_only && exit 0

# Runs one target; its exit code goes to <out>/rc.
run() {
  local t=$1 out="$build/fuzz-out/$1" rc=0
  mkdir -p "$out/corpus"
  rm -f "$out/rc"
  # -timeout: the Docker target waits on a socket; a hang is a finding too.
  # timeout(1): libFuzzer's out-of-memory report profiles the whole heap
  # under ASan, which took over 10 minutes for 2 GB; the log already names it.
  timeout -s KILL $((seconds + 120)) \
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus" "fuzz/corpus/$t" >"$out/fuzz.log" 2>&1 || rc=$?
  echo "$rc" >"$out/rc"
}

# One target per CPU at a time: each is a single process.
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  run "$t" &
done
wait

failed=()
printf '%-14s %10s %8s %8s %8s  %s\n' target execs exec/s cov ft result
for t in "${targets[@]}"; do
  out="$build/fuzz-out/$t"
  log="$out/fuzz.log"
  rc=$(cat "$out/rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  # No cov line when a seed crashes at once: that must report, not end the script.
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  result=ok
  if [ "$rc" -ne 0 ]; then
    # The newest artifact (older runs' may be there too); none when the
    # target died otherwise.
    artifact=$(ls -t "$out"/crash-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | head -1 || true)
    result="CRASH (see $log${artifact:+, $artifact})"
    failed+=("$t")
  fi
  printf '%-14s %10s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
