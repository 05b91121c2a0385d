#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil {

// What /proc tells about one running process.
struct ProcEntry {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint64_t start_ticks = 0;  // field 22 of stat: clock ticks after boot
  uint32_t uid = 0, gid = 0, euid = 0, egid = 0;
  std::string comm;
  std::string exe;
  std::string cwd;
  std::vector<std::string> argv;
};

// Reads /proc/<pid> under `proc_root`. Fields the reader may not see (exe and
// cwd of kernel threads, say) are left empty; a process that vanished while
// being read is NotFound.
absl::StatusOr<ProcEntry> ReadProcEntry(const std::string& proc_root, uint32_t pid);

// The pids of every process under `proc_root`.
std::vector<uint32_t> ListPids(const std::string& proc_root);

}  // namespace vigil
