#include "common/cgroup2.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/file.h"

namespace vigil {

absl::StatusOr<std::string> Cgroup2MountFromMountinfo(absl::string_view mountinfo) {
  // "36 25 0:31 / /sys/fs/cgroup/unified rw,... shared:10 - cgroup2 cgroup2 rw,..."
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> halves = absl::StrSplit(line, absl::MaxSplits(" - ", 1));
    if (halves.size() != 2 || !absl::StartsWith(halves[1], "cgroup2 ")) continue;
    std::vector<absl::string_view> f = absl::StrSplit(halves[0], ' ');
    if (f.size() >= 5 && f[3] == "/") return std::string(f[4]);
  }
  return absl::NotFoundError("cgroup2 is not mounted");
}

absl::StatusOr<std::string> FindCgroup2Mount() {
  auto mountinfo = ReadFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return mountinfo.status();
  return Cgroup2MountFromMountinfo(*mountinfo);
}

}  // namespace vigil
