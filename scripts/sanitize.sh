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
#   scripts/sanitize.sh --grpc        only TSan, in build-tsan-grpc/, against a
#                                     gRPC built with TSan as well: the gRPC
#                                     paths (uplink, collector streams, local
#                                     API, containerd and CRI watchers) and the
#                                     real daemons on the real probes (ring
#                                     reader). Not in CI: gRPC's first build
#                                     takes about half an hour on two cores.
#
# A sanitizer report fails the test that triggered it (no recovery, exit code
# of the sanitizer). TSan needs abseil's mutexes instrumented, or every
# absl::Mutex is invisible to it: Debian's abseil source package (the same
# version and patches as libabsl-dev, so gRPC and protobuf bind to it too) is
# built once with -fsanitize=thread into $VIGIL_TSAN_ABSEIL
# (default /var/cache/vigil/tsan-abseil) and reused; gRPC the same way, for
# --grpc, into $VIGIL_TSAN_GRPC (default /var/cache/vigil/tsan-grpc).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
full=false
run=true
grpc=false
for arg in "$@"; do
  case $arg in
    --full) full=true ;;
    --build-only) run=false ;;
    --grpc) grpc=true ;;
    *) echo "usage: $0 [--full] [--build-only] [--grpc]" >&2; exit 2 ;;
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
# gRPC built with -fsanitize=thread too: --grpc.
tsan_tests=(pipeline_test spool_test resend_filter_test subscribers_test common_test)
# With --grpc, also: the uplink against an in-process collector (both ends'
# streams), the containerd watcher against a fake containerd over gRPC, and
# the ctest tests that run the real sensor (ring reader, pipeline, local API
# and vigilctl tails, uplink), the real collector (mTLS streams, hostile
# peers) and the runtime watchers against a real containerd.
tsan_grpc_tests=(uplink_delivery_test containerd_watch_test)
tsan_grpc_ctest=(bpf.api_test bpf.no_loss_test bpf.tail_stall_test bpf.container_cgroup_test e2e.container_test
                 e2e.uplink_test e2e.collector_security_test)

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

# The source of the Debian package that built <dev package>, patched as
# Debian builds it, unpacked under <work>: deb-src from the archive the
# machine already uses, through an apt list of its own. Prints the source
# directory.
deb_source() {
  local package=$1 work=$2 source
  # The native package only: with the arm64 cross packages installed, a bare
  # name matches both architectures and prints the version twice.
  source=$(dpkg-query -W -f='${source:Package}=${source:Version}' "$package:$(dpkg --print-architecture)")
  mkdir -p "$work/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" >"$work/sources.list"
  local apt=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root)
  (cd "$work" && apt-get "${apt[@]}" update -qq && apt-get "${apt[@]}" source -qq "$source") >&2
  find "$work" -maxdepth 1 -type d -name "${source%%=*}-*" | head -1
}

# Builds a Debian package's source, static, with TSan, into <prefix> once per
# version of <dev package>; prints <prefix>. The rest are cmake options.
tsan_library() {
  local package=$1 prefix=$2 version
  shift 2
  version=$(dpkg-query -W -f='${Version}' "$package:$(dpkg --print-architecture)")
  if [ -f "$prefix/.version" ] && [ "$(cat "$prefix/.version")" = "$version" ]; then
    echo "$prefix"
    return
  fi
  local work src
  work=$(mktemp -d)
  trap "rm -rf '$work'" EXIT  # a subshell's: $(tsan_library ...)
  src=$(deb_source "$package" "$work")
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_STANDARD=17 \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DCMAKE_C_FLAGS="-fsanitize=thread" -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_INSTALL_PREFIX="$prefix" "$@" >/dev/null
  ninja -C "$work/build" -j "$jobs" install >/dev/null
  echo "$version" >"$prefix/.version"
  echo "$prefix"
}

tsan_abseil() {
  tsan_library libabsl-dev "${VIGIL_TSAN_ABSEIL:-/var/cache/vigil/tsan-abseil}" -DABSL_PROPAGATE_CXX_STD=ON
}

# gRPC against the TSan abseil and Debian's other libraries (protobuf, re2,
# c-ares, OpenSSL, zlib have no locks of their own on the paths we use), with
# only the C++ code generator, which our build runs (libprotoc-dev).
tsan_grpc() {
  local absl=$1
  dpkg-query -W -f='${Status}' libprotoc-dev 2>/dev/null | grep -q 'ok installed' ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libprotoc-dev >&2
  local options=(-DgRPC_INSTALL=ON -DgRPC_BUILD_TESTS=OFF -DgRPC_BUILD_CSHARP_EXT=OFF) x
  for x in CSHARP NODE OBJECTIVE_C PHP PYTHON RUBY; do options+=("-DgRPC_BUILD_GRPC_${x}_PLUGIN=OFF"); done
  for x in ABSL CARES PROTOBUF RE2 SSL ZLIB; do options+=("-DgRPC_${x}_PROVIDER=package"); done
  tsan_library libgrpc++-dev "${VIGIL_TSAN_GRPC:-/var/cache/vigil/tsan-grpc}" -DCMAKE_PREFIX_PATH="$absl" "${options[@]}"
}

tsan() {
  local build=build-tsan prefix
  prefix=$(tsan_abseil)
  local targets=("${tsan_tests[@]}")
  if $grpc; then
    build=build-tsan-grpc
    prefix="$prefix;$(tsan_grpc "$prefix")"
    targets+=("${tsan_grpc_tests[@]}" "${tsan_grpc_ctest[@]#*.}" vigil-sensor vigil-collector vigilctl)
  fi
  # Configured again when bound to other libraries: against Debian's abseil,
  # every absl::Mutex is invisible and TSan reports races under held locks.
  if [ ! -f "$build/build.ninja" ] || ! grep -qxF "CMAKE_PREFIX_PATH:UNINITIALIZED=$prefix" "$build/CMakeCache.txt"; then
    rm -rf "$build"
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_SANITIZE=thread \
      -DVIGIL_UNIT_TESTS=ON -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  fi
  ninja -C "$build" -j "$jobs" "${targets[@]}" >/dev/null || ninja -C "$build" -j 1 "${targets[@]}"
  $run || return 0
  local reports=$PWD/$build/tsan-reports
  rm -rf "$reports"
  mkdir -p "$reports"
  # Each report also goes to a file of its own (<pid> appended), so that one
  # from a daemon a test started fails the run even if the test passed.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp log_path=$reports/tsan"
  $grpc && targets=("${tsan_tests[@]}" "${tsan_grpc_tests[@]}")
  echo "sanitize: TSan, ${targets[*]}"
  # One run of each executable, all its tests.
  local failed=0 t
  for t in "${targets[@]}"; do
    if "$build/tests/unit/$t" --gtest_brief=1 >"$build/$t.log" 2>&1 && [ -z "$(ls -A "$reports")" ]; then
      echo "  $t: ok"
    else
      echo "  $t: FAILED"
      cat "$build/$t.log" "$reports"/* 2>/dev/null
      rm -f "$reports"/*
      failed=1
    fi
  done
  if $grpc; then
    local tests
    tests=$(IFS='|'; echo "${tsan_grpc_ctest[*]}")
    tests="^(${tests//./\\.})\$"
    echo "sanitize: TSan, ctest -R '$tests'"
    ctest --test-dir "$build" -R "$tests" --output-on-failure --no-tests=error || failed=1
    if [ -n "$(ls -A "$reports")" ]; then
      echo "sanitize: TSan reports from the daemons:"
      cat "$reports"/*
      failed=1
    fi
  fi
  return $failed
}

$grpc || asan
tsan
