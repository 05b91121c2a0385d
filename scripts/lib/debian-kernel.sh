# shellcheck shell=bash
# Fetch named Debian kernels and turn their bzImage into an ELF vmlinux.
# Sourced by scripts/gen-vmlinux.sh and the kernel-VM matrix; defines only
# variables and functions, so sourcing it has no side effects.
#
#   dk_mirror                              -> prints the Debian mirror URL
#   dk_fetch <suite> <pkg-glob> <cache>    -> prints path of extracted vmlinuz
#   dk_describe <vmlinuz>                  -> prints "<package> <version>"
#   dk_extract_vmlinux <vmlinuz> <out>     -> writes an ELF vmlinux to <out>

# Debian packages providing the tools these functions call; the caller installs
# whatever is missing (the library never installs anything itself).
# shellcheck disable=SC2034  # used by the scripts that source this file
DK_TOOLS_PKGS="apt dpkg binutils grep coreutils gzip xz-utils bzip2 lzop lz4 zstd"
DK_KEYRING=${DK_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

_dk_err() { echo "debian-kernel: $*" >&2; }

# The mirror this machine already uses (it may be a local mirror or proxy and
# the only one reachable), taken from the first apt source whose path ends in
# /debian; debian-security, snapshot and third-party repos don't match.
# DK_MIRROR overrides; deb.debian.org is the last resort.
dk_mirror() {
  local f u uris
  if [[ -n ${DK_MIRROR:-} ]]; then echo "${DK_MIRROR%/}"; return; fi
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    if [[ $f == *.sources ]]; then   # deb822: "URIs: <uri> [<uri>...]"
      uris=$(sed -n 's/^URIs:[[:space:]]*//p' "$f")
    else                             # one-line: "deb [opts] <uri> <suite> <comp>..."
      uris=$(sed -nE 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f")
    fi
    for u in $uris; do
      if [[ ${u%/} == */debian ]]; then echo "${u%/}"; return; fi
    done
  done
  echo http://deb.debian.org/debian
}

# apt with a private state per suite: its own sources list, lists, cache and an
# empty dpkg status, so the system's sources and installed packages neither
# change nor leak into the package choice. Sandbox user root because the cache
# usually lives in a home directory that _apt cannot write.
_dk_apt() {
  local st=$1 tool=$2
  shift 2
  "$tool" -q -o Dir::Etc::SourceList="$st/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$st/lists" -o Dir::Cache="$st/cache" -o Dir::State::status=/dev/null \
    -o APT::Architectures=amd64 -o Acquire::Languages=none -o APT::Sandbox::User=root "$@"
}

# Downloads <name>=<ver> into <cache> unless already there, unpacks it (with
# its control file, for dk_describe) and prints the unpacked directory.
_dk_unpack() {
  local st=$1 cache=$2 name=$3 ver=$4 deb dir tmp
  deb=$cache/${name}_${ver//:/%3a}_amd64.deb   # the file name apt-get download uses
  dir=$cache/${name}_${ver}
  if [[ ! -s $deb ]]; then
    _dk_err "downloading $name $ver"
    if ! (cd "$cache" && _dk_apt "$st" apt-get download "$name=$ver" >&2); then
      _dk_err "download of $name $ver failed"
      return 1
    fi
  fi
  if [[ ! -d $dir ]]; then   # unpack beside, then rename: no half trees in the cache
    tmp=$(mktemp -d "$dir.XXXXXX") || return 1
    if ! { dpkg-deb -x "$deb" "$tmp" && dpkg-deb -f "$deb" >"$tmp/.control"; }; then
      rm -rf "$tmp"
      _dk_err "cannot unpack $deb (delete it to download again)"
      return 1
    fi
    mv "$tmp" "$dir"
  fi
  echo "$dir"
}

dk_fetch() {
  if (($# != 3)); then _dk_err "usage: dk_fetch <suite> <package-glob> <cache-dir>"; return 2; fi
  local suite=$1 glob=$2 cache=$3 st name ver dir vmlinuz cands try=()
  st=$cache/apt/$suite
  mkdir -p "$st/lists/partial" "$st/cache/archives/partial" || return 1
  echo "deb [signed-by=$DK_KEYRING] $(dk_mirror) $suite main" >"$st/sources.list"
  if ! _dk_apt "$st" apt-get update >&2; then
    _dk_err "apt-get update failed for suite '$suite' ($(dk_mirror))"
    return 1
  fi

  # Candidates as "rank version name": debug-symbol packages never; the plain
  # (signed) image ranks before its -unsigned twin; newest version first.
  cands=$(_dk_apt "$st" apt-cache pkgnames "${glob%%[*?[]*}" | while read -r name; do
    # shellcheck disable=SC2053  # $glob is meant as a pattern
    [[ $name == $glob && $name != *-dbg ]] || continue
    ver=$(_dk_apt "$st" apt-cache show --no-all-versions "$name" | sed -n 's/^Version: //p')
    echo "$([[ $name == *-unsigned ]] && echo 1 || echo 0) $ver $name"
  done | sort -k2,2Vr -k1,1n)
  if [[ -z $cands ]]; then
    _dk_err "no package matching '$glob' in $suite"
    return 1
  fi

  # The first package that really ships a vmlinuz wins. Since 7.x (sid)
  # linux-image-X is an empty package whose vmlinuz is in the linux-binary-X it
  # depends on (pinned to the same version), so that dependency is tried next;
  # there it lives in /usr/lib/modules/<release>/ instead of /boot.
  while read -r _ ver name; do
    try=("$name $ver")
    while ((${#try[@]})); do
      read -r name ver <<<"${try[0]}"
      try=("${try[@]:1}")
      dir=$(_dk_unpack "$st" "$cache" "$name" "$ver") || return 1
      for vmlinuz in "$dir"/boot/vmlinuz-* "$dir"/usr/lib/modules/*/vmlinuz; do
        if [[ -f $vmlinuz ]]; then echo "$vmlinuz"; return 0; fi
      done
      mapfile -t -O "${#try[@]}" try < <(sed -n 's/^Depends: //p' "$dir/.control" | tr ',' '\n' |
        sed -nE 's/^ *(linux-binary-[^ ]+) \(= ([^)]+)\).*/\1 \2/p')
    done
  done <<<"$cands"
  _dk_err "no package matching '$glob' in $suite (or its linux-binary-* dependency) contains a vmlinuz"
  return 1
}

# Package and version of a vmlinuz returned by dk_fetch (from the saved control).
dk_describe() {
  local control=${1%/boot/*}
  control=${control%/usr/lib/modules/*}/.control
  [[ -r $control ]] || { _dk_err "no package metadata for $1"; return 1; }
  echo "$(sed -n 's/^Package: //p' "$control") $(sed -n 's/^Version: //p' "$control")"
}

_dk_is_elf() { readelf -h "$1" >/dev/null 2>&1; }

# A bzImage is setup code plus a decompressor plus the compressed vmlinux; the
# compression depends on the kernel's config, so look for every format's magic
# and try to decompress from each hit until the output is a valid ELF file.
# Decompressors complain about the trailing bytes after the payload, so their
# exit status means nothing here; readelf is the judge.
dk_extract_vmlinux() {
  if (($# != 2)); then _dk_err "usage: dk_extract_vmlinux <vmlinuz> <out>"; return 2; fi
  local in=$1 out=$2 tmp spec magic cmd off
  [[ -r $in ]] || { _dk_err "cannot read $in"; return 1; }
  if _dk_is_elf "$in"; then cp "$in" "$out"; return; fi
  tmp=$(mktemp "$out.XXXXXX") || return 1
  for spec in '\x1f\x8b\x08|gzip -dc' '\xfd7zXZ\x00|xz -dc' 'BZh|bzip2 -dc' \
    '\x5d\x00\x00\x00|xz -dc --format=lzma' '\x89LZO|lzop -dc' '\x02!L\x18|lz4 -dc' \
    '\x28\xb5\x2f\xfd|zstd -dc'; do
    magic=${spec%%|*} cmd=${spec#*|}
    # shellcheck disable=SC2013  # offsets are single words
    for off in $(LC_ALL=C grep -obUaP "$magic" "$in" | cut -d: -f1); do
      # shellcheck disable=SC2086  # $cmd is a command plus its flags
      tail -c "+$((off + 1))" "$in" | $cmd >"$tmp" 2>/dev/null || true
      if _dk_is_elf "$tmp"; then
        chmod 644 "$tmp" && mv "$tmp" "$out"
        return 0
      fi
    done
  done
  rm -f "$tmp"
  _dk_err "no compressed ELF vmlinux found in $in"
  return 1
}
