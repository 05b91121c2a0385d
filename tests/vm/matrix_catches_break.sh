#!/usr/bin/env bash
# The matrix must catch a probe that a kernel's verifier rejects, on that
# kernel only, and say why: --self_test_break=exec makes the exec programs
# call a helper of 5.11+ (bpf_get_current_task_btf, #158), so 5.10 must
# report exec as no longer attaching, with the verifier's reason, while 6.1
# still passes.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$root/scripts/vm-matrix.sh" --kernels=5.10,6.1 --break=exec >"$out" 2>&1
code=$?
cat "$out"
((code == 77)) && exit 77
fail() { echo "matrix_catches_break: FAIL: $*"; exit 1; }
((code == 1)) || fail "the matrix exited $code, want 1"
for mode in auto tracepoint; do
  grep -qE "^REGRESSION 5\.10 $mode exec: no longer attaches .*(invalid|unknown) func .*#158" "$out" ||
    fail "no 'REGRESSION 5.10 $mode exec: no longer attaches ... invalid func ...#158' line"
done
! grep -qE "^(REGRESSION|FAIL) 6\.1 " "$out" || fail "6.1 failed too; only 5.10 lacks the helper"
! grep -qE "^(REGRESSION|FAIL) 5\.10 [a-z]+ (fork|exit)" "$out" || fail "probes other than exec failed on 5.10"
echo "matrix_catches_break: PASS: 5.10 rejects the broken exec probe with the verifier's reason, 6.1 passes"
