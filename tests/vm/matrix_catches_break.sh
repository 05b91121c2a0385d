#!/usr/bin/env bash
# The matrix must catch a probe that a kernel's verifier rejects, on that
# kernel only, and say why: --self_test_break=exec makes the exec programs
# call a helper of 5.11+ (bpf_get_current_task_btf, #158), so 5.10 must
# report exec as no longer attaching, with the verifier's reason, while 6.1
# still passes. On either architecture: $1 is --arch=amd64 (default) or
# --arch=arm64 (columns arm64-5.10, arm64-6.1).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
arch=amd64
[[ ${1:-} == --arch=* ]] && arch=${1#*=}
prefix=""
[[ $arch == amd64 ]] || prefix="$arch-"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$root/scripts/vm-matrix.sh" --arch="$arch" --kernels=5.10,6.1 --break=exec >"$out" 2>&1
code=$?
cat "$out"
((code == 77)) && exit 77
fail() { echo "matrix_catches_break: FAIL ($arch): $*"; exit 1; }
((code == 1)) || fail "the matrix exited $code, want 1"
old="${prefix}5\.10" new="${prefix}6\.1"
for mode in auto tracepoint; do
  grep -qE "^REGRESSION $old $mode exec: no longer attaches .*(invalid|unknown) func .*#158" "$out" ||
    fail "no 'REGRESSION ${prefix}5.10 $mode exec: no longer attaches ... invalid func ...#158' line"
done
! grep -qE "^(REGRESSION|FAIL) $new " "$out" || fail "${prefix}6.1 failed too; only 5.10 lacks the helper"
! grep -qE "^(REGRESSION|FAIL) $old [a-z]+ (fork|exit)" "$out" || fail "probes other than exec failed on 5.10"
echo "matrix_catches_break: PASS ($arch): ${prefix}5.10 rejects the broken exec probe with the verifier's reason, ${prefix}6.1 passes"
