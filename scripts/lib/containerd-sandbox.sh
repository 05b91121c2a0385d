#!/usr/bin/env bash
# Runs a containerd of its own in DIR (root, state, sockets all below DIR), in
# the foreground: for tests and benchmarks that must not touch, or collide
# with, any other containerd on the machine. Its socket is DIR/containerd.sock.
# The CRI plugin (the CRI RuntimeService on the same socket) is off unless
# --cri is given: it adds start-up time.
set -euo pipefail
dir=${1:?usage: containerd-sandbox.sh DIR [--cri]}
disabled='disabled_plugins = ["io.containerd.grpc.v1.cri"]'
[ "${2:-}" = --cri ] && disabled=
mkdir -p "$dir"
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
$disabled
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = "$dir/debug.sock"
[metrics]
  address = ""
TOML
exec /usr/bin/containerd -c "$dir/config.toml" >>"$dir/containerd.log" 2>&1
