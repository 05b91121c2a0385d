#!/usr/bin/env bash
# SigmaHQ compatibility, measured: runs every Linux rule of a SigmaHQ checkout
# through Vigil's rule compiler (CheckRules, one file at a time) and tallies
# the rules loaded and the rules refused, by reason. Needs no network.
#
# usage: scripts/sigma-compat.sh <sigma checkout> [build dir] [folder...]
#   folders default to every folder under rules/linux.
set -euo pipefail

sigma=${1:?usage: $0 <sigma checkout> [build dir] [folder...]}
build=${2:-build}
shift $(( $# >= 2 ? 2 : 1 ))
cd "$(dirname "$0")/.."
ninja -C "$build" -j2 vigil_rules_check_each >/dev/null
tool="$build/tests/bench/vigil_rules_check_each"

if [ $# -eq 0 ]; then
  set -- $(cd "$sigma/rules/linux" && ls -d */ | tr -d /)
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for folder in "$@"; do
  find "$sigma/rules/linux/$folder" -name '*.yml' -print0 | sort -z |
    xargs -0 "$tool" | sed "s|^|$folder |" >>"$out"
done

# A reason without its place and without the values that differ rule by rule.
normalize() {
  sed -E -e 's/^[^ ]+ refused [^ ]+:[0-9]+:[0-9]+: //' \
    -e "s/bad regular expression '.*': /bad regular expression: /" \
    -e "s/, not '[^']*'/, not '...'/" \
    -e "s/'[^']*' is not a number/'...' is not a number/"
}

total=$(wc -l <"$out")
loaded=$(grep -c '^[^ ]* loaded ' "$out" || true)
echo "SigmaHQ $(git -C "$sigma" log -1 --format=%h 2>/dev/null || echo '?') rules/linux/{$(IFS=,; echo "$*")}: $total rules, $loaded loaded, $((total - loaded)) refused"
for folder in "$@"; do
  n=$(grep -c "^$folder " "$out" || true)
  l=$(grep -c "^$folder loaded " "$out" || true)
  echo "  $folder: $n rules, $l loaded"
done
echo "refused, by reason:"
grep ' refused ' "$out" | normalize | sort | uniq -c | sort -rn
