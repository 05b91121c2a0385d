#!/usr/bin/env bash
# Builds an OCI image of busybox-static and its applet links and imports it
# into a containerd as REF, in the k8s.io namespace: containers with a real
# image name and digest, and no registry. Prints the manifest digest.
set -euo pipefail
socket=${1:?usage: busybox-image.sh SOCKET REF WORKDIR}
ref=${2:?}
d=${3:?}
mkdir -p "$d/rootfs/bin" "$d/img/blobs/sha256"
cp /bin/busybox "$d/rootfs/bin/"
for a in $(/bin/busybox --list); do
  [ "$a" = busybox ] || ln -sf busybox "$d/rootfs/bin/$a"
done
tar -C "$d/rootfs" -cf "$d/layer.tar" .
blob() {
  local s
  s=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$d/img/blobs/sha256/$s"
  echo "$s"
}
size() { stat -c %s "$1"; }
layer=$(blob "$d/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$layer" >"$d/config.json"
config=$(blob "$d/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config" "$(size "$d/config.json")" "$layer" "$(size "$d/layer.tar")" >"$d/manifest.json"
manifest=$(blob "$d/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$(size "$d/manifest.json")" "$ref" >"$d/img/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$d/img/oci-layout"
tar -C "$d/img" -cf "$d/image.tar" .
/usr/bin/ctr -a "$socket" -n k8s.io images import "$d/image.tar" >/dev/null
echo "sha256:$manifest"
