// Process family: exec, fork, exit on the sched_process_* tracepoints.
#include "loader/families.h"
#include "loader/skeleton.h"
#include "process.skel.h"

namespace vigil {

FamilySpec ProcessFamily() {
  using ProcessSkel = Skeleton<process_bpf, process_bpf__open_opts, process_bpf__destroy>;
  return FamilySpec{
      "process",
      {
          {"exec",
           {{"vigil_exec_btf", Hook::kTpBtf, "sched/sched_process_exec"},
            {"vigil_exec_raw", Hook::kRawTp, "sched/sched_process_exec"}}},
          {"fork",
           {{"vigil_fork_btf", Hook::kTpBtf, "sched/sched_process_fork"},
            {"vigil_fork_raw", Hook::kRawTp, "sched/sched_process_fork"}}},
          {"exit",
           {{"vigil_exit_btf", Hook::kTpBtf, "sched/sched_process_exit"},
            {"vigil_exit_raw", Hook::kRawTp, "sched/sched_process_exit"}}},
      },
      [](const bpf_object_open_opts* opts, const LoaderConfig& config) -> absl::StatusOr<std::unique_ptr<BpfObject>> {
        auto skel = ProcessSkel::Make(opts);
        if (!skel.ok()) return skel.status();
        (*skel)->skel()->rodata->vigil_max_arg_bytes = config.max_arg_bytes;
        (*skel)->skel()->rodata->vigil_break_exec = config.break_probe == "exec";
        return std::unique_ptr<BpfObject>(*std::move(skel));
      }};
}

}  // namespace vigil
