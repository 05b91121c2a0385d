#!/usr/bin/env bash
# The kernel-compatibility matrix: `vigil-sensor --self_test` on the newest
# Debian cloud kernel of each suite, booted under qemu (TCG, no KVM needed),
# and on the host, each with --hooks=auto and --hooks=tracepoint. Prints a
# probe x kernel x mode table and compares it with tests/vm/expected.tsv.
#
# usage: scripts/vm-matrix.sh [--arch=amd64|arm64] [--kernels=5.10,6.1,6.12,7.x,host] [--break=exec] [--update]
#   --arch     the kernels' and the sensor's architecture (default amd64). arm64
#              cross-builds the sensor into <build>/arm64 (scripts/cross-build.sh) and boots
#              Debian's arm64 kernels under qemu-system-aarch64; its columns are
#              named arm64-<kernel> and it has no host column.
#   --kernels  columns to run (default: all)
#   --break    passes --self_test_break to the sensor (proves the matrix fails)
#   --update   rewrites this architecture's part of docs/kernel-matrix.md and
#              tests/vm/expected.tsv from this run
# env: VIGIL_BUILD_DIR (build), VIGIL_KERNEL_CACHE (${XDG_CACHE_HOME:-~/.cache}/vigil/kernels),
#      VIGIL_VM_TIMEOUT (seconds per VM, 600),
#      VIGIL_MAX_VERIFIER_INSNS (500000: half the verifier's 1M limit; more fails)
#
# Exit: 0 when every probe that attached passed and nothing regressed against
# the expectation (a probe no longer attaching, or on a worse hook); 1
# otherwise; 77 (skip) when qemu, a kernel or root is missing, except with
# CI=true, where that is a failure too.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
[[ $build == /* ]] || build=$root/$build
cache=${VIGIL_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil/kernels}
vm_timeout=${VIGIL_VM_TIMEOUT:-600}
max_insns=${VIGIL_MAX_VERIFIER_INSNS:-500000}
expected=$root/tests/vm/expected.tsv
doc=$root/docs/kernel-matrix.md

# column | suites to try, in order | package glob of the Debian suite that carries that kernel
# (for the architecture: <arch> stands for it)
kernel_specs=(
  "5.10|bullseye|linux-image-5.10.0-*-cloud-<arch>"
  "6.1|bookworm|linux-image-6.1.0-*-cloud-<arch>"
  "6.12|trixie bookworm-backports|linux-image-6.12.*-cloud-<arch>"
  "7.x|sid|linux-image-7.*-cloud-<arch>"
)
modes=(auto tracepoint)

arch=amd64 columns="" break_probe="" update=0
for arg in "$@"; do
  case $arg in
    --arch=*) arch=${arg#*=} ;;
    --kernels=*) columns=${arg#*=} ;;
    --break=*) break_probe=${arg#*=} ;;
    --update) update=1 ;;
    *) echo "usage: $0 [--arch=amd64|arm64] [--kernels=5.10,6.1,6.12,7.x,host] [--break=exec] [--update]" >&2; exit 2 ;;
  esac
done

# What differs between architectures: qemu and its machine, the serial console,
# where the sensor is built, the busybox, how the sensor's libraries are
# listed, and the column names. Everything else is shared.
case $arch in
  amd64)
    qemu=(qemu-system-x86_64 -accel tcg -cpu max)  # max: TCG then offers RDRAND, so the kernel's RNG is ready at once
    serial=ttyS0
    prefix=""
    default_columns="5.10,6.1,6.12,7.x,host"
    ;;
  arm64)
    # The virt board; max is the most hardware features (LSE atomics, as on
    # Graviton/Ampere), with QEMU's own pointer-authentication cipher, which
    # TCG runs several times faster than the architected one.
    qemu=(qemu-system-aarch64 -M virt -accel tcg -cpu "max,pauth-impdef=on")
    serial=ttyAMA0
    prefix="arm64-"
    default_columns="5.10,6.1,6.12,7.x"
    ;;
  *) echo "vm-matrix: unknown --arch=$arch (amd64 or arm64)" >&2; exit 2 ;;
esac
IFS=, read -r -a columns <<<"${columns:-$default_columns}"
labels=("${columns[@]/#/$prefix}")  # the columns' names in results, table and expectation

log() { echo "vm-matrix: $*" >&2; }
# Something the matrix needs is missing: a skip for developers, a failure in CI.
missing() {
  if [[ ${CI:-} == true ]]; then log "FAIL (CI=true): $*"; exit 1; fi
  log "SKIP: $*"
  exit 77
}

# shellcheck source-path=SCRIPTDIR source=lib/debian-kernel.sh
source "$root/scripts/lib/debian-kernel.sh"

(($(id -u) == 0)) || missing "the host column and kernel downloads need root"
command -v "${qemu[0]}" >/dev/null || missing "${qemu[0]} not installed (scripts/install-deps.sh)"
command -v cpio >/dev/null || missing "cpio not installed (scripts/install-deps.sh)"

work=$build/vm-matrix
[[ $arch == amd64 ]] || work=$work-$arch
mkdir -p "$work" "$cache"
results=$work/results.tsv  # column mode probe family hook result insns ms reason
: >"$results"
kernels=$work/kernels.tsv  # column package version release seconds
: >"$kernels"
: >"$work/fetch.log"

# The cache is shared by every checkout on the machine, and apt locks its
# lists: one fetch at a time.
lock_cache() {
  exec 9>"$cache/.fetch.lock"
  flock -w 900 9 || missing "kernel cache $cache stayed locked for 15 minutes"
}

# The sensor, a static busybox and the sensor's libraries (as "<path>" lines,
# for the initramfs) for the architecture.
if [[ $arch == amd64 ]]; then
  sensor_build=$build
  busybox=/bin/busybox
  if [[ ! -x $busybox ]] || readelf -l "$busybox" | grep -q INTERP; then
    missing "$busybox is not a static busybox (install busybox-static)"
  fi
  strip="strip"
  list_libs() { ldd "$1"; }
else
  sensor_build=$build/arm64  # scripts/cross-build.sh's
  # Debian's own arm64 busybox-static, from the suite this machine runs.
  lock_cache
  bb_dir=$(dk_fetch_deb bookworm busybox-static "$cache" arm64 2>>"$work/fetch.log") ||
    missing "no arm64 busybox-static (see $work/fetch.log)"
  flock -u 9
  busybox=$bb_dir/bin/busybox
  strip=aarch64-linux-gnu-strip
  # ldd for another architecture: its dynamic loader's --list, run by qemu-user.
  list_libs() { qemu-aarch64 -L / /lib/ld-linux-aarch64.so.1 --list "$1"; }
fi

log "building vigil-sensor ($arch)"
if [[ $arch == amd64 ]]; then
  ninja -C "$build" -j2 vigil-sensor >/dev/null || ninja -C "$build" -j2 vigil-sensor
else
  VIGIL_BUILD_DIR=$build "$root/scripts/cross-build.sh" vigil-sensor || {
    (($? == 77)) && missing "the arm64 cross build (scripts/cross-build.sh)"
    exit 1
  }
fi
sensor=$sensor_build/userspace/sensor/vigil-sensor
sensor_args=(--self_test --output=/dev/null --log_level=warn)
[[ -n $break_probe ]] && sensor_args+=("--self_test_break=$break_probe")

# VIGIL-SELFTEST lines of one run -> results.tsv rows.
collect() {
  local column=$1 mode=$2
  tr -d '\r' | awk -v col="$column" -v mode="$mode" -F'\t' '
    function val(key,   m) {
      if (match($0, " " key "=\"([^\"\\\\]|\\\\.)*\"")) return substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 4)
      if (match($0, " " key "=[^ ]*")) return substr($0, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
      return "-"
    }
    /^VIGIL-SELFTEST probe=/ {
      print col "\t" mode "\t" val("probe") "\t" val("family") "\t" val("hook") "\t" val("result") "\t" \
            val("insns") "\t" val("ms") "\t" val("reason")
    }
    /^VIGIL-SELFTEST-ERROR/ { print col "\t" mode "\t*\t*\tnone\tfail\t-\t-\t" val("reason") }'
}

# The initramfs: static busybox with its applet links, the sensor as built
# with every shared library it loads (at the same paths, with the dynamic
# loader), and an init that mounts what the sensor needs and runs the
# self-test per mode. Not a static sensor: Debian ships cpp-httplib (the
# metrics server) only as a shared library.
initramfs=$work/initramfs.cpio
rm -rf "$work/rootfs"
mkdir -p "$work/rootfs"/{bin,dev,proc,sys,tmp,run}
cp "$busybox" "$work/rootfs/bin/busybox"
# The applet list of the host's busybox: the arm64 one cannot run here.
for applet in $(/bin/busybox --list); do
  [[ -e $work/rootfs/bin/$applet ]] || ln -s busybox "$work/rootfs/bin/$applet"
done
$strip -o "$work/rootfs/bin/vigil-sensor" "$sensor"
for lib in $(list_libs "$sensor" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
  mkdir -p "$work/rootfs$(dirname "$lib")"
  cp -L "$lib" "$work/rootfs$lib"
done
cat >"$work/rootfs/init" <<EOF
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf; mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
echo "VIGIL-VM-KERNEL \$(uname -r)"
for hooks in ${modes[*]}; do
  echo "VIGIL-VM-RUN hooks=\$hooks"
  /bin/vigil-sensor --hooks=\$hooks --node_name=vm ${sensor_args[*]}
  echo "VIGIL-VM-EXIT hooks=\$hooks code=\$?"
done
poweroff -f
EOF
chmod 755 "$work/rootfs/init"
(cd "$work/rootfs" && find . | cpio -o -H newc --quiet) >"$initramfs"

run_vm() {
  local column=$1 suites=$2 glob=$3 suite vmlinuz="" console=$work/console-$1.log start secs mode
  lock_cache
  for suite in $suites; do
    vmlinuz=$(dk_fetch "$suite" "$glob" "$cache" "$arch" 2>>"$work/fetch.log") && break
    vmlinuz=""
  done
  flock -u 9
  [[ -n $vmlinuz ]] || missing "no kernel '$glob' from $suites (see $work/fetch.log)"
  read -r pkg ver < <(dk_describe "$vmlinuz")
  log "$column: booting $pkg $ver"
  start=$(date +%s)
  timeout "$vm_timeout" "${qemu[@]}" -smp 1 -m 1G -nographic -monitor none \
    -serial stdio -no-reboot -kernel "$vmlinuz" -initrd "$initramfs" \
    -append "console=$serial panic=-1 quiet loglevel=4" </dev/null >"$console" 2>&1 || true
  secs=$(($(date +%s) - start))
  echo -e "$column\t$pkg\t$ver\t$(tr -d '\r' <"$console" | sed -n 's/.*VIGIL-VM-KERNEL //p' | head -1)\t$secs" >>"$kernels"
  for mode in "${modes[@]}"; do
    tr -d '\r' <"$console" | sed -n "/VIGIL-VM-RUN hooks=$mode\$/,/VIGIL-VM-EXIT hooks=$mode /p" |
      collect "$column" "$mode" >>"$results"
    # Not grep -q: it exits at the first match, tr then dies of SIGPIPE, and
    # pipefail turns a found summary into a missing one.
    if ! tr -d '\r' <"$console" | grep "^VIGIL-SELFTEST-SUMMARY .* hooks=$mode " >/dev/null; then
      echo -e "$column\t$mode\t*\t*\tnone\tfail\t-\t-\tno self-test summary on the console within ${vm_timeout}s (see $console)" >>"$results"
    fi
  done
  log "$column: done in ${secs}s"
}

run_host() {
  local start secs mode out
  start=$(date +%s)
  for mode in "${modes[@]}"; do
    out=$work/host-$mode.log
    "$sensor" --hooks="$mode" --node_name=host "${sensor_args[@]}" >"$out" 2>&1 || true
    collect host "$mode" <"$out" >>"$results"
    grep -q "^VIGIL-SELFTEST-SUMMARY" "$out" ||
      echo -e "host\t$mode\t*\t*\tnone\tfail\t-\t-\tno self-test summary (see $out)" >>"$results"
  done
  secs=$(($(date +%s) - start))
  echo -e "host\t-\t-\t$(uname -r)\t$secs" >>"$kernels"
}

total_start=$(date +%s)
for column in "${columns[@]}"; do
  if [[ $column == host && $arch == amd64 ]]; then run_host; continue; fi
  found=0
  for spec in "${kernel_specs[@]}"; do
    IFS='|' read -r name suites glob <<<"$spec"
    if [[ $name == "$column" ]]; then run_vm "$prefix$name" "$suites" "${glob//<arch>/$arch}"; found=1; fi
  done
  ((found)) || { log "unknown column $column"; exit 2; }
done
total=$(($(date +%s) - total_start))

# ---- the table ---------------------------------------------------------
# Cell: hook and verifier instructions on a pass, FAIL or "unavailable".
table() {
  awk -F'\t' -v cols="${labels[*]}" -v modes="${modes[*]}" '
    { key = $1 SUBSEP $2 SUBSEP $3
      if ($6 == "pass") cell[key] = $5 " ✓ " $7
      else if ($6 == "fail") cell[key] = ($5 == "none" ? "" : $5 " ") "**FAIL**"
      else cell[key] = "unavailable"
      if ($3 != "*" && !($3 in seen)) { seen[$3] = 1; order[++n] = $3; fam[$3] = $4 }
      if ($3 == "*") broken[$1 SUBSEP $2] = 1 }
    END {
      nc = split(cols, c, " "); nm = split(modes, m, " ")
      head = "| probe |"; rule = "| --- |"
      for (i = 1; i <= nc; i++) for (j = 1; j <= nm; j++) { head = head " " c[i] " " m[j] " |"; rule = rule " --- |" }
      print head; print rule
      for (p = 1; p <= n; p++) {
        row = "| " fam[order[p]] "/" order[p] " |"
        for (i = 1; i <= nc; i++) for (j = 1; j <= nm; j++) {
          k = c[i] SUBSEP m[j] SUBSEP order[p]
          row = row " " (k in cell ? cell[k] : ((c[i] SUBSEP m[j]) in broken ? "**FAIL**" : "–")) " |"
        }
        print row
      }
    }' "$results"
}

# Failures and regressions, one line each.
verdict=$work/verdict.txt
{
  awk -F'\t' '$6 == "fail" { print "FAIL " $1 " " $2 " " $3 ": " $9 }' "$results"
  # Complexity creeping towards the verifier's limit fails before a kernel rejects it.
  awk -F'\t' -v max="$max_insns" '$7 ~ /^[0-9]+$/ && $7 + 0 > max + 0 {
    print "FAIL " $1 " " $2 " " $3 ": the verifier processed " $7 " instructions, more than " max }' "$results"
  if [[ -r $expected ]]; then
    # shellcheck disable=SC2016
    awk -F'\t' -v cols=" ${labels[*]} " '
      NR == FNR { if ($0 !~ /^#/ && NF >= 4) want[$1 SUBSEP $2 SUBSEP $3] = $4; next }
      { got[$1 SUBSEP $2 SUBSEP $3] = $0 }
      END {
        for (k in want) {
          split(k, a, SUBSEP)
          if (index(cols, " " a[1] " ") == 0) continue
          if (!(k in got)) { print "REGRESSION " a[1] " " a[2] " " a[3] ": not reported (expected " want[k] ")"; continue }
          split(got[k], g, "\t")
          if (g[6] == "unavailable") print "REGRESSION " a[1] " " a[2] " " a[3] ": no longer attaches (expected " want[k] "): " g[9]
          else if (g[6] == "pass" && g[5] != want[k]) print "REGRESSION " a[1] " " a[2] " " a[3] ": uses " g[5] ", expected " want[k]
        }
      }' "$expected" "$results" | sort
  fi
} >"$verdict"

# The document has one section per architecture, each written by that
# architecture's run (between its markers); --update replaces only its own.
intro() {
  echo "# Kernel matrix"
  echo
  echo "Generated by \`scripts/vm-matrix.sh\` (\`--arch=amd64\`, \`--arch=arm64\`); do not edit."
  echo "Each cell: the hook the probe used, ✓ when \`vigil-sensor --self_test\` saw its events"
  echo "with the right fields, and the instructions the verifier processed for its program."
  echo "\`auto\` is \`--hooks=auto\` (the best hook the kernel offers), \`tracepoint\` is"
  echo "\`--hooks=tracepoint\`."
}
section=$work/section.md
{
  echo "<!-- vm-matrix:$arch -->"
  echo "## ${qemu[0]#qemu-system-} ($arch)"
  [[ -n $break_probe ]] && echo && echo "**Run with --self_test_break=$break_probe (a deliberately broken probe).**"
  echo
  table
  echo
  echo "| column | kernel package | version | uname -r | seconds (boot + both modes) |"
  echo "| --- | --- | --- | --- | --- |"
  awk -F'\t' '{ print "| " $1 " | " $2 " | " $3 " | " $4 " | " $5 " |" }' "$kernels"
  echo
  echo "Whole matrix: ${total}s on $(nproc) CPUs, ${qemu[0]} TCG (no KVM), $(date -u +%F)."
  if [[ -s $verdict ]]; then
    echo
    echo "### Failures"
    echo
    sed 's/^/- /' "$verdict"
  fi
  echo "<!-- /vm-matrix:$arch -->"
} >"$section"
{ intro; echo; cat "$section"; } | tee "$work/kernel-matrix.md"

if ((update)); then
  mkdir -p "$(dirname "$doc")" "$(dirname "$expected")"
  {
    intro
    for a in amd64 arm64; do
      if [[ $a == "$arch" ]]; then
        echo; cat "$section"
      elif [[ -r $doc ]] && grep -q "^<!-- vm-matrix:$a -->" "$doc"; then
        echo; sed -n "/^<!-- vm-matrix:$a -->/,/^<!-- \/vm-matrix:$a -->/p" "$doc"
      fi
    done
  } >"$doc.new"
  mv "$doc.new" "$doc"
  {
    echo "# Written by scripts/vm-matrix.sh --update: column, mode, probe, hook of each probe that"
    echo "# passed. The matrix fails when one of these no longer attaches or uses another hook."
    {
      # Columns not run this time keep their lines.
      [[ -r $expected ]] && awk -F'\t' -v cols=" ${labels[*]} " '!/^#/ && index(cols, " " $1 " ") == 0' "$expected"
      awk -F'\t' '$6 == "pass" { print $1 "\t" $2 "\t" $3 "\t" $5 }' "$results"
    } | sort
  } >"$expected.new"
  mv "$expected.new" "$expected"
  log "wrote $doc and $expected"
fi

if [[ -s $verdict ]]; then
  echo
  cat "$verdict"
  log "FAILED ($(wc -l <"$verdict") problems, ${total}s)"
  exit 1
fi
log "passed (${total}s)"
