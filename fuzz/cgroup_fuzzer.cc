// Cgroup paths (any process can name its cgroups), /proc/<pid>/cgroup and
// /proc/self/mountinfo contents: the same bytes go to each parser, and the
// path a /proc cgroup file yields goes on to the path parser, as the
// container enricher chains them.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/cgroup2.h"
#include "container/cgroup_path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vigil::ParseCgroupPath(text);
  (void)vigil::Cgroup2MountFromMountinfo(text);
  if (auto path = vigil::CgroupPathFromProcFile(text); path.ok()) (void)vigil::ParseCgroupPath(*path);
  return 0;
}
