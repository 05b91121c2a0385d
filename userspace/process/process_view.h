#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace vigil {

// What the process cache keeps of a process: all of a v1::Process but its
// tid and exec id (the cache's key), in about half the memory. exe, cwd and
// argv share one allocation; comm fits std::string's inline buffer.
struct CachedProcess {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t ns_pid = 0;
  uint32_t uid = 0, gid = 0, euid = 0, egid = 0;
  // Which of uid, gid, euid, egid are set (root's 0 is not "unset").
  enum : uint8_t { kUid = 1, kGid = 2, kEuid = 4, kEgid = 8 };
  uint8_t ids = 0;
  bool argv_truncated = false;
  bool has_start_time = false;
  int32_t start_nanos = 0;
  int64_t start_seconds = 0;
  uint32_t exe_size = 0;
  uint32_t cwd_size = 0;
  uint32_t argc = 0;
  std::string comm;
  std::string parent_exec_id;
  // exe, then cwd, then each argument followed by a NUL (the kernel's
  // separator: no argument holds one).
  std::string text;

  absl::string_view exe() const { return absl::string_view(text).substr(0, exe_size); }
  absl::string_view cwd() const { return absl::string_view(text).substr(exe_size, cwd_size); }
  // The arguments, each followed by a NUL.
  absl::string_view argv() const { return absl::string_view(text).substr(exe_size + cwd_size); }
  // The arguments joined by spaces, as a rule's CommandLine reads them.
  void AppendCommandLine(std::string& out) const;
};

// Read-only lookups into what the process cache knows, for later stages
// (the detector asks about a process's ancestors on any event kind, not only
// on exec events, which carry them). Pipeline thread only; a returned
// pointer is valid until the cache is next changed (the next event).
class ProcessView {
 public:
  virtual ~ProcessView() = default;
  // The process with this exec id, or null.
  virtual const CachedProcess* Lookup(absl::string_view exec_id) const = 0;
};

}  // namespace vigil
