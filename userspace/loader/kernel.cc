#include "loader/kernel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status.h"
#include "loader/owners.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace vigil {

namespace {

constexpr long kBpffsMagic = 0xcafe4a11;
constexpr long kTracefsMagic = 0x74726163;

// True when the running kernel's release is at least major.minor.
bool KernelAtLeast(int major, int minor) {
  utsname u{};
  int ma = 0, mi = 0;
  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2) return true;
  return ma > major || (ma == major && mi >= minor);
}

bool HasFs(const char* path, long magic) {
  struct statfs st {};
  return statfs(path, &st) == 0 && st.f_type == magic;
}

}  // namespace

absl::Status CheckCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return ErrnoStatus(errno, "capget");
  auto has = [&](int cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
  // Each missing capability by name, with what it is for: in a pod the fix
  // is one line of the securityContext, and the message must say which.
  std::vector<std::string> missing;
  if (!has(CAP_SYS_ADMIN)) {
    if (!has(CAP_BPF)) missing.push_back("CAP_BPF (load probes and maps)");
    if (!has(CAP_PERFMON)) missing.push_back("CAP_PERFMON (attach to tracepoints)");
  }
  if (!has(CAP_SYS_PTRACE)) missing.push_back("CAP_SYS_PTRACE (executable and cwd of running processes in /proc)");
  if (!has(CAP_SYS_RESOURCE) && !KernelAtLeast(5, 11)) {
    missing.push_back("CAP_SYS_RESOURCE (RLIMIT_MEMLOCK for BPF maps before Linux 5.11)");
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing capabilities ", absl::StrJoin(missing, ", "),
                                                  " (CAP_SYS_ADMIN replaces CAP_BPF and CAP_PERFMON on kernels "
                                                  "without them): run as root or grant them"));
}

absl::Status CheckBtf(const std::string& path) {
  if (access(path.c_str(), R_OK) != 0) {
    return ErrnoStatus(errno, absl::StrCat("kernel BTF at ", path,
                                           " (Vigil needs a kernel built with CONFIG_DEBUG_INFO_BTF, or "
                                           "--kernel_btf pointing at BTF for this kernel)"));
  }
  return absl::OkStatus();
}

absl::Status EnsureKernelFilesystems() {
  struct Fs {
    const char* path;
    const char* type;
    long magic;
  };
  for (const Fs& fs : {Fs{"/sys/fs/bpf", "bpf", kBpffsMagic}, Fs{"/sys/kernel/tracing", "tracefs", kTracefsMagic}}) {
    if (HasFs(fs.path, fs.magic)) continue;
    mkdir(fs.path, 0700);
    if (mount(fs.type, fs.path, fs.type, 0, nullptr) != 0) {
      return ErrnoStatus(errno, absl::StrCat("mount ", fs.type, " on ", fs.path));
    }
    Logger("loader")->info("mounted {} on {}", fs.type, fs.path);
  }
  return absl::OkStatus();
}

void RaiseMemlockLimit() {
  rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  if (setrlimit(RLIMIT_MEMLOCK, &unlimited) != 0) {
    Logger("loader")->debug("could not lift RLIMIT_MEMLOCK: {}", std::strerror(errno));
  }
}

bool TracepointExists(const std::string& category_and_name) {
  for (const char* root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"}) {
    if (access(absl::StrCat(root, category_and_name).c_str(), F_OK) == 0) return true;
  }
  return false;
}

bool KprobesSupported() {
  return access("/sys/kernel/tracing/kprobe_events", F_OK) == 0 ||
         access("/sys/kernel/debug/tracing/kprobe_events", F_OK) == 0;
}

bool KernelSymbolExists(const std::string& symbol) {
  // available_filter_functions lists what ftrace, and so kprobes, can hook:
  // "name" or "name [module]" per line. /proc/kallsyms ("addr type name") is
  // the fallback where tracefs lacks it.
  struct Source {
    const char* path;
    size_t column;
  };
  for (const Source& src : {Source{"/sys/kernel/tracing/available_filter_functions", 0}, Source{"/proc/kallsyms", 2}}) {
    std::ifstream in(src.path);
    if (!in) continue;
    std::string line;
    while (std::getline(in, line)) {
      std::vector<absl::string_view> cols = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (cols.size() > src.column && cols[src.column] == symbol) return true;
    }
    return false;
  }
  return false;
}

absl::Status ProbeFentry(const btf* vmlinux, const std::string& function) {
  if (vmlinux == nullptr) return absl::FailedPreconditionError("no kernel BTF");
  const int id = btf__find_by_name_kind(vmlinux, function.c_str(), BTF_KIND_FUNC);
  if (id < 0) return absl::NotFoundError(absl::StrCat(function, " is not in the kernel's BTF"));
  // r0 = 0; exit
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = BPF_TRACE_FENTRY;
  opts.attach_btf_id = static_cast<uint32_t>(id);
  UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "vigil_fentry", "GPL", insns, std::size(insns), &opts));
  if (!prog.valid()) return LibbpfStatus(prog.get(), "program load");
  // BPF_RAW_TRACEPOINT_OPEN attaches tracing programs since 5.5, below our floor.
  UniqueFd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
  if (!link.valid()) return LibbpfStatus(link.get(), "attach");
  return absl::OkStatus();
}

}  // namespace vigil
