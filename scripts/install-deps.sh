#!/usr/bin/env bash
# Installs Vigil's build and test dependencies from Debian's packages.
# Idempotent: installs only what is missing, and runs apt-get update only then.
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config git ccache
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libabsl-dev libspdlog-dev libfmt-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev libcli11-dev
  linux-libc-dev iproute2 procps util-linux
  # setcap, for the file-capability exec test (tests/bpf/exec_facts_test.cc)
  libcap2-bin
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
  # detection e2e (tests/e2e/detection_test.cc): the real tools whose use the
  # default rules detect, run inside test containers (PHP's built-in server for
  # the web shell, a scanner, a relay, an SSH server with no service of its
  # own, modprobe)
  php-cli nmap socat dropbear-bin kmod
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
