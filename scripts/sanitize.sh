#!/usr/bin/env bash
# The test suites under the sanitizers, each in a build directory of its own
# (cmake/Sanitizers.cmake):
#
#   ASan + UBSan   build-asan/ (clang; the fuzzers' build too): every unit test
#   TSan           build-tsan/ (gcc), against an abseil built with TSan: the
#                  unit tests of threaded code without gRPC (tsan_tests below)
#
#   scripts/sanitize.sh               what CI runs (scripts/test.sh with CI=true)
#   scripts/sanitize.sh --full        also the bpf suite (real probes, root)
#                                     under ASan + UBSan
#   scripts/sanitize.sh --build-only  the builds, no test (scripts/test.sh
#                                     compiles them while the kernel tests run)
#
# A sanitizer report fails the test that triggered it (no recovery, exit code
# of the sanitizer). TSan needs abseil's mutexes instrumented, or every
# absl::Mutex is invisible to it: Debian's abseil source package (the same
# version and patches as libabsl-dev, so gRPC and protobuf bind to it too) is
# built once with -fsanitize=thread into $VIGIL_TSAN_ABSEIL
# (default /var/cache/vigil/tsan-abseil) and reused.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
full=false
run=true
for arg in "$@"; do
  case $arg in
    --full) full=true ;;
    --build-only) run=false ;;
    *) echo "usage: $0 [--full] [--build-only]" >&2; exit 2 ;;
  esac
done
jobs=$(nproc)

# TSan runs the threaded code it can see whole: the pipeline's workers and
# queues, the spool's writer and readers, the collector's resend filter
# (shared by its streams), the local API's subscriber hub (the pipeline
# offering while tails take, come and go) and the rate limits that several
# threads share (common_test). Not the gRPC paths (uplink, collector streams,
# local API): Debian's gRPC core is not built with TSan and hands data between
# its threads through atomics TSan cannot see, so the uplink test reports
# races inside libgrpc (absl::Status payloads, call metadata). Those need
# gRPC built with -fsanitize=thread too; not done here.
tsan_tests=(pipeline_test spool_test resend_filter_test subscribers_test common_test)

asan() {
  local build=build-asan
  [ -f "$build/build.ninja" ] ||
    CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_FUZZ=ON >/dev/null
  local targets=(vigil_unit_tests)
  $full && targets=(all)
  ninja -C "$build" -j "$jobs" "${targets[@]}" >/dev/null || ninja -C "$build" -j 1 "${targets[@]}"
  $run || return 0
  local labels=unit
  $full && labels='unit|bpf'
  echo "sanitize: ASan + UBSan, ctest -L '$labels'"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$build" -L "$labels" --output-on-failure --no-tests=error -j "$jobs"
}

# Debian's abseil source (deb-src from the archive the machine already uses,
# through an apt list of its own), patched as Debian builds it, static, TSan.
tsan_abseil() {
  local prefix=${VIGIL_TSAN_ABSEIL:-/var/cache/vigil/tsan-abseil}
  local version
  # The native package only: with the arm64 cross packages installed, a bare
  # name matches both architectures and prints the version twice.
  version=$(dpkg-query -W -f='${Version}' "libabsl-dev:$(dpkg --print-architecture)")
  if [ -f "$prefix/.version" ] && [ "$(cat "$prefix/.version")" = "$version" ]; then
    echo "$prefix"
    return
  fi
  local work
  work=$(mktemp -d)
  trap "rm -rf '$work'" EXIT  # a subshell's: $(tsan_abseil)
  mkdir -p "$work/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" >"$work/sources.list"
  local apt=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root)
  (cd "$work" && apt-get "${apt[@]}" update -qq && apt-get "${apt[@]}" source -qq "abseil=$version") >&2
  local src
  src=$(find "$work" -maxdepth 1 -type d -name 'abseil-*' | head -1)
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_STANDARD=17 \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DABSL_PROPAGATE_CXX_STD=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
  ninja -C "$work/build" -j "$jobs" install >/dev/null
  echo "$version" >"$prefix/.version"
  echo "$prefix"
}

tsan() {
  local build=build-tsan absl
  absl=$(tsan_abseil)
  # Configured again when bound to another abseil: against Debian's, every
  # absl::Mutex is invisible and TSan reports races under held locks.
  if [ ! -f "$build/build.ninja" ] || ! grep -qx "absl_DIR:PATH=$absl/.*" "$build/CMakeCache.txt"; then
    rm -rf "$build"
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_SANITIZE=thread \
      -DCMAKE_PREFIX_PATH="$absl" >/dev/null
  fi
  local targets=("${tsan_tests[@]}")
  ninja -C "$build" -j "$jobs" "${targets[@]}" >/dev/null || ninja -C "$build" -j 1 "${targets[@]}"
  $run || return 0
  echo "sanitize: TSan, ${targets[*]}"
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp"
  # One run of each executable, all its tests.
  local failed=0 t
  for t in "${targets[@]}"; do
    if "$build/tests/unit/$t" --gtest_brief=1 >"$build/$t.log" 2>&1; then
      echo "  $t: ok"
    else
      echo "  $t: FAILED"
      cat "$build/$t.log"
      failed=1
    fi
  done
  return $failed
}

asan
tsan
