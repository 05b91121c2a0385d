#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

// The whole content of a (small) file: PEM files, cursors.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces `path` by `content` all at once (a temporary file renamed over
// it): a reader sees the old or the new content, never a mix. With `sync`
// the content is on stable storage before the rename.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, bool sync);

}  // namespace vigil
