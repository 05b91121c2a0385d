#include "process/process_view.h"

#include <algorithm>

namespace vigil {

void CachedProcess::AppendCommandLine(std::string& out) const {
  absl::string_view args = argv();
  for (uint32_t i = 0; i < argc && !args.empty(); ++i) {
    if (i > 0) out.push_back(' ');
    const size_t end = std::min(args.find('\0'), args.size());
    out.append(args.data(), end);
    args.remove_prefix(std::min(end + 1, args.size()));
  }
}

}  // namespace vigil
