#!/usr/bin/env bash
# Builds the .deb with CPack, installs it with apt into a clean Debian 12
# (bookworm) minbase root made by debootstrap (cached as a tarball in
# ~/.cache/vigil, so only the first run downloads it), checks what landed
# where, runs the installed binaries' --version in that root, and runs
# `systemd-analyze verify` on the installed units there. Root: chroot.
set -euo pipefail
build=${VIGIL_BUILD_DIR:?set VIGIL_BUILD_DIR}
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $*" >&2; exit 1; fi
  echo "SKIP: $*" >&2
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (chroot)"
command -v debootstrap >/dev/null || skip "no debootstrap (scripts/install-deps.sh)"
cache=${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}
tmp=$(mktemp -d /var/tmp/vigil-deb.XXXXXX)
root=$tmp/root
cleanup() {
  for m in proc dev/pts dev; do umount "$root/$m" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The package, from what is built.
(cd "$build" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; exit 1; }
deb=$(ls "$tmp"/pkg/vigil_*.deb)
echo "package: $(basename "$deb") $(du -h "$deb" | cut -f1)"
dpkg-deb -I "$deb" | sed -n 's/^ Depends:/depends:/p'

# A clean Debian 12, once.
base=$cache/debian12-minbase.tar
if [ ! -s "$base" ]; then
  mirror=$(. "$(dirname "$0")/../../scripts/lib/debian-kernel.sh" && dk_mirror)
  debootstrap --variant=minbase bookworm "$tmp/base" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log"; exit 1; }
  mkdir -p "$cache"
  tar -C "$tmp/base" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$tmp/base"
fi
mkdir -p "$root"
tar -C "$root" -xf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp "$deb" "$root/tmp/"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "/tmp/$(basename "$deb")" >"$tmp/apt.log" 2>&1 || { tail -30 "$tmp/apt.log"; exit 1; }

fail=0
for f in usr/bin/vigil-sensor usr/bin/vigil-collector usr/bin/vigilctl lib/systemd/system/vigil-sensor.service \
  lib/systemd/system/vigil-collector.service etc/default/vigil-sensor etc/default/vigil-collector \
  etc/logrotate.d/vigil etc/vigil/rules etc/vigil/sensor.yaml etc/vigil/collector.yaml usr/share/doc/vigil/README.md; do
  [ -e "$root/$f" ] || { echo "FAIL: /$f not installed"; fail=1; }
done
conffiles=$(cat "$root/var/lib/dpkg/info/vigil.conffiles" 2>/dev/null || true)
for f in /etc/default/vigil-sensor /etc/default/vigil-collector /etc/logrotate.d/vigil /etc/vigil/sensor.yaml \
  /etc/vigil/collector.yaml; do
  grep -qx "$f" <<<"$conffiles" || { echo "FAIL: $f is not a conffile"; fail=1; }
done
for b in vigil-sensor vigil-collector vigilctl; do
  out=$(chroot "$root" "/usr/bin/$b" --version 2>&1) || { echo "FAIL: $b --version: $out"; fail=1; continue; }
  echo "$out"
  grep -qE "^$b [0-9.]+ \(commit [0-9a-f]+, BPF ABI [0-9]+\)" <<<"$out" || { echo "FAIL: $b --version: $out"; fail=1; }
done
# The installed configuration files are read by default and valid; they set
# what the units need (docs/configuration.md).
for want in "vigil-sensor output: /var/log/vigil/events.jsonl" \
  "vigil-collector file-path: /var/log/vigil/collector/events.jsonl"; do
  b=${want%% *}
  out=$(chroot "$root" env -i "/usr/bin/$b" --print-config 2>&1) || { echo "FAIL: $b --print-config: $out"; fail=1; continue; }
  grep -qE "^${want#* }  # file /etc/vigil/${b#vigil-}.yaml:[0-9]+$" <<<"$out" ||
    { echo "FAIL: $b does not take ${want#* } from /etc/vigil/${b#vigil-}.yaml"; fail=1; }
done
# The analyzer needs systemd's own units (sysinit.target, ...) in the root:
# systemd is installed for it only after the package's own checks.
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd \
  >>"$tmp/apt.log" 2>&1 || { tail -30 "$tmp/apt.log"; exit 1; }
if ! chroot "$root" env SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
  /lib/systemd/system/vigil-sensor.service /lib/systemd/system/vigil-collector.service >"$tmp/verify.log" 2>&1; then
  cat "$tmp/verify.log"; fail=1
fi
if grep -v "^$" "$tmp/verify.log"; then echo "FAIL: systemd-analyze verify complained"; fail=1; fi
[ $fail = 0 ] && echo "deb: PASS"
exit $fail
