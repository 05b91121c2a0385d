#!/usr/bin/env bash
# The kernel-compatibility matrix: `vigil-sensor --self_test` on the newest
# Debian cloud kernel of each suite, booted under qemu (TCG, no KVM needed),
# and on the host, each with --hooks=auto and --hooks=tracepoint. Prints a
# probe x kernel x mode table and compares it with tests/vm/expected.tsv.
#
# usage: scripts/vm-matrix.sh [--kernels=5.10,6.1,6.12,7.x,host] [--break=exec] [--update]
#   --kernels  columns to run (default: all)
#   --break    passes --self_test_break to the sensor (proves the matrix fails)
#   --update   rewrites docs/kernel-matrix.md and tests/vm/expected.tsv from this run
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
kernel_specs=(
  "5.10|bullseye|linux-image-5.10.0-*-cloud-amd64"
  "6.1|bookworm|linux-image-6.1.0-*-cloud-amd64"
  "6.12|trixie bookworm-backports|linux-image-6.12.*-cloud-amd64"
  "7.x|sid|linux-image-7.*-cloud-amd64"
)
modes=(auto tracepoint)

columns="5.10,6.1,6.12,7.x,host" break_probe="" update=0
for arg in "$@"; do
  case $arg in
    --kernels=*) columns=${arg#*=} ;;
    --break=*) break_probe=${arg#*=} ;;
    --update) update=1 ;;
    *) echo "usage: $0 [--kernels=5.10,6.1,6.12,7.x,host] [--break=exec] [--update]" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a columns <<<"$columns"

log() { echo "vm-matrix: $*" >&2; }
# Something the matrix needs is missing: a skip for developers, a failure in CI.
missing() {
  if [[ ${CI:-} == true ]]; then log "FAIL (CI=true): $*"; exit 1; fi
  log "SKIP: $*"
  exit 77
}

# shellcheck source-path=SCRIPTDIR source=lib/debian-kernel.sh
source "$root/scripts/lib/debian-kernel.sh"

command -v qemu-system-x86_64 >/dev/null || missing "qemu-system-x86_64 not installed (scripts/install-deps.sh)"
command -v cpio >/dev/null || missing "cpio not installed (scripts/install-deps.sh)"
busybox=/bin/busybox
if [[ ! -x $busybox ]] || readelf -l "$busybox" | grep -q INTERP; then
  missing "$busybox is not a static busybox (install busybox-static)"
fi
(($(id -u) == 0)) || missing "the host column and kernel downloads need root"

work=$build/vm-matrix
mkdir -p "$work" "$cache"
results=$work/results.tsv  # column mode probe family hook result insns ms reason
: >"$results"
kernels=$work/kernels.tsv  # column package version release seconds
: >"$kernels"
: >"$work/fetch.log"

log "building vigil-sensor"
ninja -C "$build" -j2 vigil-sensor >/dev/null || ninja -C "$build" -j2 vigil-sensor
sensor=$build/userspace/sensor/vigil-sensor
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
for applet in $("$busybox" --list); do
  [[ -e $work/rootfs/bin/$applet ]] || ln -s busybox "$work/rootfs/bin/$applet"
done
strip -o "$work/rootfs/bin/vigil-sensor" "$sensor"
for lib in $(ldd "$sensor" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
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
  # The cache is shared by every checkout on the machine, and apt locks its
  # lists: one fetch at a time.
  exec 9>"$cache/.fetch.lock"
  flock -w 900 9 || missing "kernel cache $cache stayed locked for 15 minutes"
  for suite in $suites; do
    vmlinuz=$(dk_fetch "$suite" "$glob" "$cache" 2>>"$work/fetch.log") && break
    vmlinuz=""
  done
  flock -u 9
  [[ -n $vmlinuz ]] || missing "no kernel '$glob' from $suites (see $work/fetch.log)"
  read -r pkg ver < <(dk_describe "$vmlinuz")
  log "$column: booting $pkg $ver"
  start=$(date +%s)
  # -cpu max: TCG then offers RDRAND, so the kernel's RNG is ready at once.
  timeout "$vm_timeout" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1G -nographic -monitor none \
    -serial stdio -no-reboot -kernel "$vmlinuz" -initrd "$initramfs" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4" </dev/null >"$console" 2>&1 || true
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
  if [[ $column == host ]]; then run_host; continue; fi
  found=0
  for spec in "${kernel_specs[@]}"; do
    IFS='|' read -r name suites glob <<<"$spec"
    if [[ $name == "$column" ]]; then run_vm "$name" "$suites" "$glob"; found=1; fi
  done
  ((found)) || { log "unknown column $column"; exit 2; }
done
total=$(($(date +%s) - total_start))

# ---- the table ---------------------------------------------------------
# Cell: hook and verifier instructions on a pass, FAIL or "unavailable".
table() {
  awk -F'\t' -v cols="${columns[*]}" -v modes="${modes[*]}" '
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
    awk -F'\t' -v cols=" ${columns[*]} " '
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

matrix=$work/kernel-matrix.md
{
  echo "# Kernel matrix"
  echo
  echo "Generated by \`scripts/vm-matrix.sh\`; do not edit. Each cell: the hook the probe used,"
  echo "✓ when \`vigil-sensor --self_test\` saw its events with the right fields, and the"
  echo "instructions the verifier processed for its program. \`auto\` is \`--hooks=auto\` (the best"
  echo "hook the kernel offers), \`tracepoint\` is \`--hooks=tracepoint\`."
  [[ -n $break_probe ]] && echo && echo "**Run with --self_test_break=$break_probe (a deliberately broken probe).**"
  echo
  table
  echo
  echo "| column | kernel package | version | uname -r | seconds (boot + both modes) |"
  echo "| --- | --- | --- | --- | --- |"
  awk -F'\t' '{ print "| " $1 " | " $2 " | " $3 " | " $4 " | " $5 " |" }' "$kernels"
  echo
  echo "Whole matrix: ${total}s on $(nproc) CPUs, qemu TCG (no KVM), $(date -u +%F)."
  if [[ -s $verdict ]]; then
    echo
    echo "## Failures"
    echo
    sed 's/^/- /' "$verdict"
  fi
} >"$matrix"
cat "$matrix"

if ((update)); then
  mkdir -p "$(dirname "$doc")" "$(dirname "$expected")"
  cp "$matrix" "$doc"
  {
    echo "# Written by scripts/vm-matrix.sh --update: column, mode, probe, hook of each probe that"
    echo "# passed. The matrix fails when one of these no longer attaches or uses another hook."
    {
      # Columns not run this time keep their lines.
      [[ -r $expected ]] && awk -F'\t' -v cols=" ${columns[*]} " '!/^#/ && index(cols, " " $1 " ") == 0' "$expected"
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
