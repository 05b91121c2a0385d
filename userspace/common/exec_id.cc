#include "common/exec_id.h"

#include "absl/strings/numbers.h"

namespace vigil {

std::string ExecId(absl::string_view node, uint32_t pid, uint64_t start_ticks) {
  std::string id;
  AssignExecId(node, pid, start_ticks, id);
  return id;
}

void AssignExecId(absl::string_view node, uint32_t pid, uint64_t start_ticks, std::string& out) {
  char digits[absl::numbers_internal::kFastToBufferSize];
  out.assign(node.data(), node.size());
  out += ':';
  out.append(digits, absl::numbers_internal::FastIntToBuffer(start_ticks, digits) - digits);
  out += ':';
  out.append(digits, absl::numbers_internal::FastIntToBuffer(pid, digits) - digits);
}

}  // namespace vigil
