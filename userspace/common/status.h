#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vigil {

// Status for a failed system call: `errnum` is a positive errno value.
absl::Status ErrnoStatus(int errnum, absl::string_view what);

// Status for a failed libbpf call, which reports -errno (directly or via
// errno); `ret` is the call's return value.
absl::Status LibbpfStatus(long ret, absl::string_view what);

}  // namespace vigil
