#pragma once

// Helpers for the per-family decoders: reading fixed structs out of a record
// whose size has been checked, and naming size errors alike everywhere.

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigil::decode {

// Copies a T out of the record's first bytes; the caller checked the size.
template <typename T>
T Load(absl::Span<const uint8_t> record) {
  T value;
  std::memcpy(&value, record.data(), sizeof(T));
  return value;
}

// For records of one fixed size.
template <typename T>
absl::Status ExpectSize(absl::Span<const uint8_t> record, absl::string_view what) {
  if (record.size() == sizeof(T)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " record of ", record.size(), " bytes, expected ", sizeof(T)));
}

// For records with a fixed part and variable tail.
template <typename T>
absl::Status ExpectAtLeast(absl::Span<const uint8_t> record, absl::string_view what) {
  if (record.size() >= sizeof(T)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " record of ", record.size(), " bytes is shorter than its fixed part (", sizeof(T), ")"));
}

// Up to the first NUL, or all of it when there is none.
inline absl::string_view CString(const char* data, size_t max_len) {
  return absl::string_view(data, strnlen(data, max_len));
}

}  // namespace vigil::decode
