#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

// Where cgroup2 is mounted, from a mountinfo file's contents; NotFound if nowhere.
absl::StatusOr<std::string> Cgroup2MountFromMountinfo(absl::string_view mountinfo);

// Where cgroup2 is mounted for this process (/proc/self/mountinfo).
absl::StatusOr<std::string> FindCgroup2Mount();

}  // namespace vigil
