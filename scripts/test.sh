#!/usr/bin/env bash
# Builds Vigil and runs every test: unit tests (no privileges) and the bpf
# tests, which load the real probes into this kernel and need root. Outside
# CI the root-only tests skip with a reason when not root; with CI=true a
# missing capability fails them. The kernel matrix (ctest -L vm,
# scripts/vm-matrix.sh) boots Debian kernels under qemu and skips or fails the
# same way when qemu, a kernel download or root is missing.
#
# The unit tests run under ASan + UBSan (build-asan/), and the threaded ones
# without gRPC under TSan as well (scripts/sanitize.sh); then a bounded run of
# every fuzzer (scripts/fuzz.sh, $VIGIL_FUZZ_SECONDS each). build/ leaves the
# unit tests out, so that two cores compile them once, and holds everything
# else. VIGIL_SANITIZERS=0 runs the unit tests from build/ instead (a quicker
# local run; CI always runs the sanitizers).
#
# Order, for two cores: build/; then its tests (ctest: the VM matrix on one
# core, the tests on this host's kernel on the other, about half of it idle)
# while the sanitizer and fuzzer builds take the idle time at nice 19; then
# the sanitizer tests and the fuzzers, alone, since some of them keep time.
#
# Ends with one line per part and the total, "N passed, N failed"; each
# part's full output is in build/test-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VIGIL_BUILD_DIR:-build}
sanitizers=true
[ "${CI:-}" = true ] || [ "${VIGIL_SANITIZERS:-1}" != 0 ] || sanitizers=false

if $sanitizers; then
  VIGIL_UNIT_TESTS=OFF scripts/build.sh
else
  VIGIL_UNIT_TESTS=ON scripts/build.sh
fi
logs=$build/test-logs
mkdir -p "$logs"

# Runs a part with its output shown and kept; its exit code is returned.
part() {
  local name=$1
  shift
  local rc=0
  "$@" 2>&1 | tee "$logs/$name.log" || rc=${PIPESTATUS[0]}
  return $rc
}

# "<passed> <failed>" from the last ctest summary in a log.
ctest_counts() {
  sed -n 's/^[0-9]*% tests passed, \([0-9]*\) tests\? failed out of \([0-9]*\)$/\1 \2/p' "$1" | tail -1 |
    awk '{print $2 - $1, $1}'
}

summary=()
total_passed=0
total_failed=0
# Adds a part to the summary: its counts, or one failure when it ended
# before it could count (a build error, a crash of the script).
tally() {
  local label=$1 rc=$2 counts=$3 passed failed
  if [ -n "$counts" ]; then
    read -r passed failed <<<"$counts"
  else
    passed=0 failed=0
  fi
  if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
    failed=1
    label="$label (exited $rc before reporting; see $logs)"
  fi
  summary+=("test: $label: $passed passed, $failed failed")
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
}

if $sanitizers; then
  (nice -n 19 scripts/sanitize.sh --build-only && nice -n 19 scripts/fuzz.sh --build-only) \
    >"$logs/sanitizer-builds.log" 2>&1 &
  builds=$!
  label="kernel, end-to-end, deploy and VM tests"
else
  echo "test: VIGIL_SANITIZERS=0, unit tests without sanitizers, no fuzz run"
  label="all tests"
fi

# The tests on this host's kernel run one at a time (a lock), beside the VM tests.
rc=0
part ctest ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$(nproc)" || rc=$?
tally "$label" "$rc" "$(ctest_counts "$logs/ctest.log")"

if $sanitizers; then
  # A build that failed here fails again below, with its errors shown.
  wait "$builds" || echo "test: the sanitizer builds failed in the background ($logs/sanitizer-builds.log)"
  rc=0
  part sanitize scripts/sanitize.sh || rc=$?
  asan=$(sed -n '/^sanitize: ASan/,/^sanitize: TSan/p' "$logs/sanitize.log" >"$logs/asan.log"; ctest_counts "$logs/asan.log")
  tsan=$(awk '/^  [a-z_]+: ok$/{p++} /^  [a-z_]+: FAILED$/{f++} END{if (p + f) print p + 0, f + 0}' "$logs/sanitize.log")
  # Once TSan has reported, the exit code is its: ASan's counts stand.
  tally "unit tests under ASan + UBSan" "$([ -n "$tsan" ] && echo 0 || echo "$rc")" "$asan"
  tally "threaded unit tests under TSan" "$rc" "$tsan"
  rc=0
  part fuzz scripts/fuzz.sh --seconds "${VIGIL_FUZZ_SECONDS:-10}" || rc=$?
  fuzz=$(awk '$NF == "ok" && NF == 6 {p++} /  CRASH \(/{f++} END{if (p + f) print p + 0, f + 0}' "$logs/fuzz.log")
  tally "fuzzers, ${VIGIL_FUZZ_SECONDS:-10} s each" "$rc" "$fuzz"
fi

echo
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
