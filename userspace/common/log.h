#pragma once

#include <spdlog/spdlog.h>

#include <memory>

#include "absl/strings/string_view.h"

// Lets loggers print absl::string_view (Status::message() among others):
// this Abseil build has its own string_view type, not std's.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  auto format(absl::string_view s, fmt::format_context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace vigil {

// One named logger per component ("loader", "decode", ...), all writing to
// stderr through one sink. Created on first use.
std::shared_ptr<spdlog::logger> Logger(absl::string_view component);

// Sets the level of every logger, present and future. Returns false for an
// unknown level name.
bool SetLogLevel(absl::string_view level);

}  // namespace vigil
