#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace vigil {

// Process start times are compared in clock ticks (USER_HZ, 100 per second):
// the unit of /proc/<pid>/stat, so a process seen at start-up through /proc
// and the same process seen later by a probe get the same identity.
inline constexpr uint64_t kNsPerTick = 10'000'000;

inline uint64_t StartTicks(uint64_t start_boottime_ns) { return start_boottime_ns / kNsPerTick; }

// "<node>:<start ticks>:<pid>": unique in the cluster, and readable.
std::string ExecId(absl::string_view node, uint32_t pid, uint64_t start_ticks);
// The same into `out`, reusing its storage.
void AssignExecId(absl::string_view node, uint32_t pid, uint64_t start_ticks, std::string& out);

// The pid and start ticks of `exec_id` when it is exactly what ExecId(node,
// pid, start_ticks) makes (digits without leading zeros); false otherwise.
bool ParseExecId(absl::string_view exec_id, absl::string_view node, uint32_t& pid, uint64_t& start_ticks);

}  // namespace vigil
