// Security syscall family: each watched syscall is a pair of probes on its
// syscalls/sys_enter_* and sys_exit_* tracepoints (the entry's arguments wait
// in a map for the exit's result); see bpf/security.bpf.c.
#include <bpf/libbpf.h>

#include <string>

#include "common/status.h"
#include "loader/families.h"
#include "loader/skeleton.h"
#include "security.skel.h"

namespace vigil {

// The probe of the entry is named after the syscall, that of the exit
// "<syscall>_exit"; both must attach for events to flow.
// clang-format off
#define VIGIL_SYSCALL_PROBES(name)                                                      \
  {#name, {{"vigil_" #name "_enter", Hook::kTracepoint, "syscalls/sys_enter_" #name}}}, \
  {#name "_exit", {{"vigil_" #name "_exit", Hook::kTracepoint, "syscalls/sys_exit_" #name}}}
// clang-format on

FamilySpec SecurityFamily(const LoaderConfig& config) {
  using SecuritySkel = Skeleton<security_bpf, security_bpf__open_opts, security_bpf__destroy>;
  FamilySpec family{
      "security",
      // clang-format off
      {
          VIGIL_SYSCALL_PROBES(ptrace),
          VIGIL_SYSCALL_PROBES(setns),
          VIGIL_SYSCALL_PROBES(unshare),
          VIGIL_SYSCALL_PROBES(clone),
          VIGIL_SYSCALL_PROBES(clone3),
          VIGIL_SYSCALL_PROBES(mount),
          VIGIL_SYSCALL_PROBES(umount),
          VIGIL_SYSCALL_PROBES(init_module),
          VIGIL_SYSCALL_PROBES(finit_module),
          VIGIL_SYSCALL_PROBES(bpf),
          VIGIL_SYSCALL_PROBES(memfd_create),
          VIGIL_SYSCALL_PROBES(setuid),
          VIGIL_SYSCALL_PROBES(setgid),
          VIGIL_SYSCALL_PROBES(setreuid),
          VIGIL_SYSCALL_PROBES(setregid),
          VIGIL_SYSCALL_PROBES(setresuid),
          VIGIL_SYSCALL_PROBES(setresgid),
          VIGIL_SYSCALL_PROBES(setgroups),
          VIGIL_SYSCALL_PROBES(capset),
          VIGIL_SYSCALL_PROBES(kill),
          VIGIL_SYSCALL_PROBES(tgkill),
          VIGIL_SYSCALL_PROBES(tkill),
      },
      // clang-format on
      [](const bpf_object_open_opts* opts, const LoaderConfig& config) -> absl::StatusOr<std::unique_ptr<BpfObject>> {
        auto skel = SecuritySkel::Make(opts);
        if (!skel.ok()) return skel.status();
        security_bpf* s = (*skel)->skel();
        // Calls between entry and exit at one time: one per thread inside a
        // watched syscall, and these return quickly. An entry whose exit
        // never comes ages out of the LRU maps. Records with path-sized
        // strings (mount, modules, memfd) wait in the smaller map of bigger
        // values.
        if (int err = bpf_map__set_max_entries(s->maps.vigil_sec_calls, config.security_pending_entries); err != 0)
          return LibbpfStatus(err, "size vigil_sec_calls");
        if (int err = bpf_map__set_max_entries(s->maps.vigil_sec_big_calls, config.security_pending_entries / 4);
            err != 0)
          return LibbpfStatus(err, "size vigil_sec_big_calls");
        return std::unique_ptr<BpfObject>(*std::move(skel));
      }};
  // Without CONFIG_MODULES there are no module tracepoints, and module
  // loads can only fail (ENOSYS). The raw syscall tracepoints still see the
  // attempts, both syscalls' in one pair of programs, but they run on every
  // syscall (getppid() measured 0.45 -> 0.97 us on the dev host): only on request.
  if (config.module_syscall_fallback) {
    for (ProbeSpec& probe : family.probes) {
      const std::string name = probe.name;
      if (name == "finit_module")
        probe.candidates.push_back({"vigil_module_enter_raw", Hook::kRawTp, "raw_syscalls/sys_enter"});
      if (name == "finit_module_exit")
        probe.candidates.push_back({"vigil_module_exit_raw", Hook::kRawTp, "raw_syscalls/sys_exit"});
    }
  }
  return family;
}

#undef VIGIL_SYSCALL_PROBES

}  // namespace vigil
