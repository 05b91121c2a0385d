#pragma once

#include <gmock/gmock.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"

namespace vigil::test {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// The exact error: its code, and a piece of its message.
MATCHER_P2(StatusIs, code, message_part,
           std::string("status is ") + absl::StatusCodeToString(code) + " containing \"" + std::string(message_part) +
               "\"") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "got " << s.ToString();
  return s.code() == code && absl::StrContains(s.message(), std::string(message_part));
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "got " << s.ToString();
  return s.ok();
}

}  // namespace vigil::test
