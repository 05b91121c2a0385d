#pragma once

#include <string>

#include "absl/status/status.h"

namespace vigil {

// Checks that this process holds what the sensor needs: CAP_BPF and
// CAP_PERFMON (5.8+; CAP_SYS_ADMIN instead on older kernels), CAP_SYS_PTRACE
// for other processes' /proc links, and CAP_SYS_RESOURCE where BPF maps count
// against RLIMIT_MEMLOCK (before 5.11). The error names each one missing.
absl::Status CheckCapabilities();

// Checks that kernel BTF is readable at `path` (default: the running kernel's).
absl::Status CheckBtf(const std::string& path);

// Mounts bpffs at /sys/fs/bpf and tracefs at /sys/kernel/tracing when they
// are not mounted yet (hosts that do not mount them at boot).
absl::Status EnsureKernelFilesystems();

// Lifts RLIMIT_MEMLOCK: kernels before 5.11 charge BPF maps to it.
void RaiseMemlockLimit();

// True when tracefs has the tracepoint "category/name".
bool TracepointExists(const std::string& category_and_name);

// True when the kernel can create kprobes (CONFIG_KPROBE_EVENTS).
bool KprobesSupported();

// True when `symbol` is a kernel function that can be probed.
bool KernelSymbolExists(const std::string& symbol);

}  // namespace vigil
