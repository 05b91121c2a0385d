# shellcheck shell=bash
# Fetch named Debian kernels and turn their bzImage into an ELF vmlinux.
# Sourced by scripts/gen-vmlinux.sh and the kernel-VM matrix; defines only
# variables and functions, so sourcing it has no side effects.
#
#   dk_mirror                                  -> prints the Debian mirror URL
#   dk_fetch <suite> <pkg-glob> <cache> [arch] -> prints path of extracted vmlinuz
#   dk_fetch_deb <suite> <pkg> <cache> [arch]  -> prints the unpacked package's directory
#   dk_describe <vmlinuz>                      -> prints "<package> <version>"
#   dk_extract_vmlinux <vmlinuz> <out>         -> writes an ELF vmlinux to <out>
#   dk_extract_btf <vmlinuz> <out>             -> writes the kernel's raw BTF to <out>
#
# arch is a Debian architecture (amd64, the default, or arm64).

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
# usually lives in a home directory that _apt cannot write. One state per
# suite and architecture: a matrix of one architecture never downloads the
# package lists of the other.
_dk_apt() {
  local st=$1 tool=$2 arch
  shift 2
  arch=$(cat "$st/arch")
  "$tool" -q -o Dir::Etc::SourceList="$st/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$st/lists" -o Dir::Cache="$st/cache" -o Dir::State::status=/dev/null \
    -o APT::Architecture="$arch" -o APT::Architectures="$arch" -o Acquire::Languages=none \
    -o APT::Sandbox::User=root "$@"
}

# Downloads <name>=<ver> into <cache> unless already there, unpacks it (with
# its control file, for dk_describe) and prints the unpacked directory.
_dk_unpack() {
  local st=$1 cache=$2 name=$3 ver=$4 deb dir tmp
  deb=$cache/${name}_${ver//:/%3a}_$(cat "$st/arch").deb   # the file name apt-get download uses
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

# The private apt state of <suite> and <arch> under <cache>, with fresh
# lists; prints its directory.
_dk_state() {
  local suite=$1 cache=$2 arch=$3 st
  st=$cache/apt/$suite
  [[ $arch == amd64 ]] || st=$st-$arch
  mkdir -p "$st/lists/partial" "$st/cache/archives/partial" || return 1
  echo "$arch" >"$st/arch"
  echo "deb [signed-by=$DK_KEYRING] $(dk_mirror) $suite main" >"$st/sources.list"
  if ! _dk_apt "$st" apt-get update >&2; then
    _dk_err "apt-get update failed for suite '$suite' ($(dk_mirror))"
    return 1
  fi
  echo "$st"
}

dk_fetch() {
  if (($# < 3 || $# > 4)); then _dk_err "usage: dk_fetch <suite> <package-glob> <cache-dir> [arch]"; return 2; fi
  local suite=$1 glob=$2 cache=$3 arch=${4:-amd64} st name ver dir vmlinuz cands try=()
  st=$(_dk_state "$suite" "$cache" "$arch") || return 1

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

# Any other package of <suite> for <arch> (a userland for another
# architecture's VMs), downloaded and unpacked like a kernel; prints the
# unpacked directory.
dk_fetch_deb() {
  if (($# < 3 || $# > 4)); then _dk_err "usage: dk_fetch_deb <suite> <package> <cache-dir> [arch]"; return 2; fi
  local suite=$1 name=$2 cache=$3 arch=${4:-amd64} st ver
  st=$(_dk_state "$suite" "$cache" "$arch") || return 1
  ver=$(_dk_apt "$st" apt-cache show --no-all-versions "$name" 2>/dev/null | sed -n 's/^Version: //p')
  [[ -n $ver ]] || { _dk_err "no package $name in $suite for $arch"; return 1; }
  _dk_unpack "$st" "$cache" "$name" "$ver"
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

# The kernel's own BTF (what /sys/kernel/btf/vmlinux shows), carved out of an
# image without section headers: Debian's arm64 vmlinuz is a bare Image, not
# an ELF file, and its .BTF section is in it byte for byte. The blob starts
# with the BTF header (magic 0xeb9f, version 1, flags 0, hdr_len 24, type_off
# 0, type_len, str_off == type_len, str_len); a magic hit whose header is not
# consistent is not it. bpftool reads the carved raw BTF like /sys's.
dk_extract_btf() {
  if (($# != 2)); then _dk_err "usage: dk_extract_btf <vmlinuz> <out>"; return 2; fi
  local in=$1 out=$2 image tmp off hdr
  [[ -r $in ]] || { _dk_err "cannot read $in"; return 1; }
  tmp=$(mktemp "$out.XXXXXX") || return 1
  image=$tmp.image
  if _dk_is_elf "$in" || ! LC_ALL=C grep -qobUaP '\x9f\xeb\x01\x00\x18\x00\x00\x00' "$in"; then
    dk_extract_vmlinux "$in" "$image" || { rm -f "$tmp"; return 1; }
  else
    cp "$in" "$image"
  fi
  # shellcheck disable=SC2013  # offsets are single words
  for off in $(LC_ALL=C grep -obUaP '\x9f\xeb\x01\x00\x18\x00\x00\x00' "$image" | cut -d: -f1); do
    # hdr_len type_off type_len str_off str_len, little-endian u32
    read -r -a hdr < <(od -An -w20 -t u4 -j "$((off + 4))" -N 20 "$image")
    ((${#hdr[@]} == 5 && hdr[1] == 0 && hdr[3] == hdr[2] && hdr[2] > 0 && hdr[4] > 0)) || continue
    tail -c "+$((off + 1))" "$image" | head -c "$((hdr[0] + hdr[3] + hdr[4]))" >"$tmp"
    if bpftool btf dump file "$tmp" format raw >/dev/null 2>&1; then
      rm -f "$image"
      chmod 644 "$tmp" && mv "$tmp" "$out"
      return 0
    fi
  done
  rm -f "$tmp" "$image"
  _dk_err "no BTF found in $in"
  return 1
}
