#!/usr/bin/env bash
# Builds Vigil's OCI image without a registry or a container engine: the three
# binaries (debug info stripped), exactly the shared libraries ldd says they
# load, the default rules, the reference configuration files (every key
# commented out) and the CA bundle (for the azure-logs forwarder),
# as one layer of an OCI image layout, written as a tarball that
# `ctr -n k8s.io images import` (or `skopeo copy oci-archive:...`) takes.
#
#   scripts/build-image.sh [--build-dir DIR] [--out FILE] [--ref NAME:TAG] [--arch LIST]
#
# Defaults: build/ (or $VIGIL_BUILD_DIR), FILE = <build>/vigil-image.tar,
# REF = localhost/vigil:<version>, LIST = amd64. --arch amd64,arm64 makes
# one multi-architecture image: REF names an OCI image index with a manifest
# per architecture, so amd64 and arm64 nodes each pull their own; the arm64
# binaries are cross-built into <build>/arm64 (scripts/cross-build.sh).
# The image runs as uid 65532 (the
# collector needs no privilege); the sensor's pod asks for root with the
# capabilities it needs (deploy/helm/vigil). The same inputs give the same
# bytes (fixed mtimes, owners and order), so the digest names the content.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VIGIL_BUILD_DIR:-build}
out='' ref='' archs=amd64
while (($#)); do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --ref) ref=$2; shift 2 ;;
    --arch) archs=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--out FILE] [--ref NAME:TAG] [--arch amd64,arm64]" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a archs <<<"$archs"
targets=(vigil-sensor vigil-collector vigilctl)
for arch in "${archs[@]}"; do
  case $arch in
    amd64)
      [ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
      ninja -C "$build" -j"${VIGIL_JOBS:-2}" "${targets[@]}" >/dev/null
      ;;
    arm64) VIGIL_BUILD_DIR=$build scripts/cross-build.sh "${targets[@]}" ;;
    *) echo "build-image: unknown architecture $arch (amd64, arm64)" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's/^project(vigil VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
ref=${ref:-localhost/vigil:$version}
out=${out:-$build/vigil-image.tar}
# Commit time, not now: rebuilding the same commit gives the same image.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
blobs=$work/layout/blobs/sha256
mkdir -p "$blobs"
# blob FILE: stores FILE under its digest and prints "<digest> <size>".
blob() {
  local d
  d=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$blobs/$d"
  echo "$d $(stat -c %s "$1")"
}

# manifest ARCH: the image of one architecture (its root as one layer, its
# config); prints the manifest's "<digest> <size>".
manifest() {
  local arch=$1 dir bins objcopy libs lib dest b
  local root=$work/rootfs-$arch
  if [ "$arch" = amd64 ]; then
    dir=$build objcopy=objcopy
    list_libs() { ldd "$1"; }
  else
    # The arm64 dynamic loader's --list, under qemu-user, is that
    # architecture's ldd.
    dir=$build/arm64 objcopy=aarch64-linux-gnu-objcopy
    list_libs() { qemu-aarch64 -L / /lib/ld-linux-aarch64.so.1 --list "$1"; }
  fi
  bins=("$dir/userspace/sensor/vigil-sensor" "$dir/userspace/collector/vigil-collector" "$dir/userspace/cli/vigilctl")
  mkdir -p "$root"/{usr/bin,usr/lib64,etc/vigil/rules,etc/ssl/certs,tmp,run/vigil,var/lib/vigil}
  # Debian's merged /usr: the loader path and RUNPATH-free lookups go through these.
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  ln -s usr/bin "$root/bin"
  chmod 1777 "$root/tmp"

  for b in "${bins[@]}"; do
    $objcopy --strip-debug "$b" "$root/usr/bin/$(basename "$b")"
  done
  # Every library the binaries load, at the path the loader looks for it,
  # resolved from the symlink ldd names to the file behind it.
  libs=$(for b in "${bins[@]}"; do list_libs "$b"; done | grep -oE '/[^ ]+\.so[^ ]*' | sort -u)
  for lib in $libs; do
    dest=$root/usr${lib#/usr}
    mkdir -p "$(dirname "$dest")"
    cp -L "$lib" "$dest"
  done
  if compgen -G 'rules/*.yml' >/dev/null; then cp rules/*.yml "$root/etc/vigil/rules/"; fi
  # The reference configuration files: they set nothing, they document every key.
  cp deploy/config/sensor.yaml deploy/config/collector.yaml "$root/etc/vigil/"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nvigil:x:65532:65532:vigil:/var/lib/vigil:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nvigil:x:65532:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

  local layer layer_size diff_id config config_size
  tar -C "$root" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -cf "$work/layer-$arch.tar" .
  diff_id=$(sha256sum "$work/layer-$arch.tar" | cut -d' ' -f1)
  gzip -n "$work/layer-$arch.tar"
  read -r layer layer_size < <(blob "$work/layer-$arch.tar.gz")

  cat >"$work/config-$arch.json" <<JSON
{"created":"$created","architecture":"$arch","os":"linux",
 "config":{"User":"65532:65532","Env":["PATH=/usr/bin"],"Entrypoint":["/usr/bin/vigil-collector"],
  "WorkingDir":"/var/lib/vigil",
  "Labels":{"org.opencontainers.image.title":"vigil","org.opencontainers.image.version":"$version",
   "org.opencontainers.image.revision":"$commit","org.opencontainers.image.source":"vigil"}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created":"$created","created_by":"scripts/build-image.sh"}]}
JSON
  read -r config config_size < <(blob "$work/config-$arch.json")
  cat >"$work/manifest-$arch.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$config_size},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer","size":$layer_size}]}
JSON
  blob "$work/manifest-$arch.json"
}

# One architecture: REF names its manifest. Several: REF names an image
# index that lists each architecture's manifest with its platform.
if ((${#archs[@]} == 1)); then
  read -r manifest manifest_size < <(manifest "${archs[0]}")
  media=application/vnd.oci.image.manifest.v1+json
else
  entries=()
  for arch in "${archs[@]}"; do
    read -r digest size < <(manifest "$arch")
    platform="\"architecture\":\"$arch\",\"os\":\"linux\""
    [ "$arch" = arm64 ] && platform="$platform,\"variant\":\"v8\""
    entries+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$digest\",\"size\":$size,\"platform\":{$platform}}")
  done
  (IFS=,; echo "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[${entries[*]}]}") >"$work/image-index.json"
  read -r manifest manifest_size < <(blob "$work/image-index.json")
  media=application/vnd.oci.image.index.v1+json
fi
cat >"$work/layout/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"$media",
 "digest":"sha256:$manifest","size":$manifest_size,
 "annotations":{"org.opencontainers.image.ref.name":"$ref","io.containerd.image.name":"$ref"}}]}
JSON
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
mkdir -p "$(dirname "$out")"
tar -C "$work/layout" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "build-image: $out: $ref (${archs[*]}) sha256:$manifest ($(du -h "$out" | cut -f1))" >&2
echo "sha256:$manifest"
