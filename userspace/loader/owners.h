#pragma once

// Owners of the kernel objects the loader holds outside a skeleton: a file
// descriptor (maps it creates, the cgroup it attaches to), a BPF link, a
// BTF object. Each is released exactly once, when its owner goes.

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <memory>

#include "common/unique_fd.h"

namespace vigil {

struct BpfLinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
// An attached program; detached on destruction.
using BpfLinkPtr = std::unique_ptr<bpf_link, BpfLinkDeleter>;

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

}  // namespace vigil
