#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace vigil {

// Kernel strings (argv, paths, comm) are bytes, protobuf strings are UTF-8.
// Valid UTF-8 passes through unchanged; every byte that is not part of a valid
// sequence becomes the four characters "\xNN", so nothing is lost or hidden.
std::string SanitizeUtf8(absl::string_view bytes);
// The same into `out`, replacing what it held and reusing its storage: the
// decoder fills reused messages without allocating.
void AssignUtf8(absl::string_view bytes, std::string& out);

// For a terminal or a log line: what a process, a container runtime or a pod
// spec chose (argv, comm, cgroup and pod names) must not move the cursor,
// recolour the screen or forge a line. C0 controls (newline and ESC among
// them), DEL and the C1 controls U+0080..U+009F become "\xNN" / "\u00NN";
// backslash becomes "\\", so the escaping cannot be forged either.
std::string EscapeControls(absl::string_view text);

}  // namespace vigil
