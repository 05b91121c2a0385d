#!/usr/bin/env bash
# The multi-architecture image as a mixed cluster's nodes take it: builds it
# (scripts/build-image.sh --arch amd64,arm64: an OCI image index with one
# manifest per architecture), imports the archive into a containerd of the
# test's own with `ctr images import --all-platforms`, and checks that the
# image lists both platforms, that each binary of the amd64 variant runs in a
# container, and that each binary of the arm64 variant runs under qemu-user
# from the arm64 root containerd unpacks, with no library but the image's
# own (the variant is complete), and says the same version, commit and
# BPF ABI as its amd64 twin. Root, real containerd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${VIGIL_BUILD_DIR:?set VIGIL_BUILD_DIR}
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $*" >&2; exit 1; fi
  echo "SKIP: $*" >&2
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (containerd)"
for t in /usr/bin/containerd /usr/bin/ctr /usr/sbin/runc /usr/bin/qemu-aarch64 /usr/bin/aarch64-linux-gnu-g++; do
  [ -x "$t" ] || skip "$t missing (scripts/install-deps.sh)"
done

tmp=$(mktemp -d /var/tmp/vigil-multiarch.XXXXXX)
ref=localhost/vigil:multiarch-$$
ctrd=$tmp/containerd
ctrd_pid=
ctr() { /usr/bin/ctr -a "$ctrd/containerd.sock" -n k8s.io "$@"; }
cleanup() {
  set +e
  ctr images unmount "$tmp/arm64-root" >/dev/null 2>&1
  [ -n "$ctrd_pid" ] && kill "$ctrd_pid" && wait "$ctrd_pid"
  umount -R "$ctrd/root" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== image (amd64, arm64)"
"$repo/scripts/build-image.sh" --build-dir "$build" --arch amd64,arm64 --out "$tmp/vigil.tar" --ref "$ref" >/dev/null
"$repo/scripts/lib/containerd-sandbox.sh" "$ctrd" &
ctrd_pid=$!
for _ in $(seq 100); do [ -S "$ctrd/containerd.sock" ] && ctr version >/dev/null 2>&1 && break; sleep 0.1; done
ctr images import --all-platforms "$tmp/vigil.tar" >/dev/null
platforms=$(ctr images ls | awk -v r="$ref" '$1 == r {print $NF == "-" ? $(NF-1) : $NF}')
echo "platforms: $platforms"
fail=0
for p in linux/amd64 linux/arm64/v8; do
  grep -qw "$p" <<<"${platforms//,/ }" || { echo "FAIL: $p not in the imported image ($platforms)"; fail=1; }
done

echo "== amd64: each binary in a container"
declare -A version
for b in vigil-sensor vigil-collector vigilctl; do
  # An empty answer is asked for again, as in least_privilege_test.sh: ctr
  # can lose a task's output when it exits at once on a loaded host.
  for try in 1 2 3; do
    v=$(ctr run --rm --platform linux/amd64 "$ref" "multiarch-$b-$$-$try" "/usr/bin/$b" --version 2>&1) || true
    [ -n "$v" ] && break
  done
  if ! grep -qE "^$b [0-9.]+ \(commit [0-9a-f]+, BPF ABI [0-9]+\)$" <<<"$v"; then
    echo "FAIL: amd64 $b --version: $v"; fail=1
  fi
  version[$b]=$v
  echo "amd64: $v"
done

echo "== arm64: each binary under qemu-user, on the image's libraries alone"
mkdir -p "$tmp/arm64-root"
ctr images mount --platform linux/arm64/v8 "$ref" "$tmp/arm64-root" >/dev/null
for b in vigil-sensor vigil-collector vigilctl; do
  # ELF e_machine 0xb7: AArch64.
  machine=$(od -An -tx2 -j18 -N2 "$tmp/arm64-root/usr/bin/$b" | tr -d ' ')
  [ "$machine" = 00b7 ] || { echo "FAIL: arm64 $b is not an arm64 binary (e_machine $machine)"; fail=1; }
  # qemu-user falls back to the host's paths for a file the prefix lacks:
  # this machine's own arm64 libraries (the cross build's) are hidden.
  v=$(unshare -m sh -c 'for d in /usr/lib/aarch64-linux-gnu /usr/aarch64-linux-gnu; do
        [ -d "$d" ] && mount -t tmpfs none "$d"; done
      exec qemu-aarch64 -L "$1" "$1/usr/bin/$2" --version' sh "$tmp/arm64-root" "$b" 2>&1) || true
  [ "$v" = "${version[$b]}" ] || { echo "FAIL: arm64 $b --version: '$v', amd64 says '${version[$b]}'"; fail=1; }
  echo "arm64: $v"
done
[ $fail = 0 ] && echo "multi-arch image: PASS"
exit $fail
