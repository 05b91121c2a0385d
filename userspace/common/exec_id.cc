#include "common/exec_id.h"

#include "absl/strings/str_cat.h"

namespace vigil {

std::string ExecId(absl::string_view node, uint32_t pid, uint64_t start_ticks) {
  return absl::StrCat(node, ":", start_ticks, ":", pid);
}

}  // namespace vigil
