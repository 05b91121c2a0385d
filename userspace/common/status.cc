#include "common/status.h"

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vigil {

absl::Status ErrnoStatus(int errnum, absl::string_view what) {
  // ErrnoToStatus appends strerror() itself.
  return absl::ErrnoToStatus(errnum, what);
}

absl::Status LibbpfStatus(long ret, absl::string_view what) {
  int errnum = ret < 0 ? static_cast<int>(-ret) : errno;
  if (errnum == 0) errnum = EINVAL;
  return ErrnoStatus(errnum, what);
}

}  // namespace vigil
