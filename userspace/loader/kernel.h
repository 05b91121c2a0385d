#pragma once

#include <string>

#include "absl/status/status.h"

struct btf;

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

// Whether BPF trampoline programs (fentry/fexit) load and attach here: a
// two-instruction fentry program on `function` (a function of `vmlinux`,
// the running kernel's BTF), attached and detached at once. Cheap next to
// the verifier's work on a family's real programs, which it spares where
// the answer is no (kernels built without trampolines, or a policy that
// refuses them, as on the dev host).
absl::Status ProbeFentry(const btf* vmlinux, const std::string& function);

}  // namespace vigil
