#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::collector {

// `data` as one gzip member (RFC 1952), for Content-Encoding: gzip.
absl::StatusOr<std::string> Gzip(absl::string_view data);

}  // namespace vigil::collector
